import { openDatabase, type Db } from './db.js';
import { SqliteEventStore } from './events-repo.js';
import { SqliteLeaseStore } from './leases-repo.js';
import { SqliteMachineStore } from './machines-repo.js';

export { SqliteEventStore, SqliteLeaseStore, SqliteMachineStore, openDatabase, type Db };
export type { EnlistResult } from './machines-repo.js';

export interface Store {
  readonly db: Db;
  readonly machines: SqliteMachineStore;
  readonly leases: SqliteLeaseStore;
  readonly events: SqliteEventStore;
  close(): void;
}

export function openStore(dataDir: string, now: () => number = Date.now): Store {
  const db = openDatabase(dataDir);
  return {
    db,
    machines: new SqliteMachineStore(db, now),
    leases: new SqliteLeaseStore(db),
    events: new SqliteEventStore(db, now),
    close: () => db.close(),
  };
}
