import { openDatabase, type Db } from './db.js';
import { SqliteEventStore } from './events-repo.js';
import { SqliteLeaseStore } from './leases-repo.js';
import { SqliteMachineStore } from './machines-repo.js';
import { SqliteRelayStore } from './relay-repo.js';

export { SqliteEventStore, SqliteLeaseStore, SqliteMachineStore, SqliteRelayStore, openDatabase, type Db };
export type { RelayRecord } from './relay-repo.js';
export type { EnlistResult } from './machines-repo.js';

export interface Store {
  readonly db: Db;
  readonly machines: SqliteMachineStore;
  readonly leases: SqliteLeaseStore;
  readonly events: SqliteEventStore;
  readonly relays: SqliteRelayStore;
  close(): void;
}

export function openStore(dataDir: string, now: () => number = Date.now): Store {
  const db = openDatabase(dataDir);
  const events = new SqliteEventStore(db, now);
  return {
    db,
    machines: new SqliteMachineStore(db, now),
    leases: new SqliteLeaseStore(db),
    events,
    relays: new SqliteRelayStore(db, now),
    close: () => {
      events.flush(); // queued events are written before the database closes
      db.close();
    },
  };
}
