import { openDatabase, openLeaseConnection, type Db } from './db.js';
import { SqliteEventStore } from './events-repo.js';
import { SqliteLeaseStore } from './leases-repo.js';
import { SqliteMachineStore } from './machines-repo.js';
import { SqliteRelayStore } from './relay-repo.js';
import { SqliteScriptStore } from './scripts-repo.js';
import { SqliteGroupStore } from './groups-repo.js';

export { SqliteEventStore, SqliteLeaseStore, SqliteMachineStore, SqliteRelayStore, openDatabase, type Db };
export type { RelayRecord } from './relay-repo.js';
export type { MachinePatch } from './machines-repo.js';
export type { RunStatus, ScriptBody, ScriptKind, ScriptResult, ScriptRun, StoredScript } from './scripts-repo.js';
export type { Group, Tag } from './groups-repo.js';
export { SqliteScriptStore, SqliteGroupStore };
export { lockDataDir, type DataDirLock } from './data-dir-lock.js';
export type { EnlistResult } from './machines-repo.js';

export interface Store {
  readonly db: Db;
  readonly machines: SqliteMachineStore;
  readonly leases: SqliteLeaseStore;
  readonly events: SqliteEventStore;
  readonly relays: SqliteRelayStore;
  readonly scripts: SqliteScriptStore;
  readonly groups: SqliteGroupStore;
  /**
   * Runs fn in one immediate transaction (the write lock is taken at BEGIN, so two writers never
   * deadlock on an upgrade) and returns its value; a throw rolls everything back. The domain uses
   * this, never `db`, so another backend can supply its own (ARCHITECTURE.md scale-out).
   */
  transaction<T>(fn: () => T): T;
  /** Writes queued events, waits for the WAL flush in progress, then closes both connections. */
  close(): Promise<void>;
}

export function openStore(dataDir: string, now: () => number = Date.now): Store {
  const db = openDatabase(dataDir);
  const leaseConnection = openLeaseConnection(dataDir);
  const events = new SqliteEventStore(db, now, leaseConnection.db);
  return {
    db,
    machines: new SqliteMachineStore(db, now),
    leases: new SqliteLeaseStore(leaseConnection.db, leaseConnection.walSync),
    events,
    relays: new SqliteRelayStore(db, now),
    scripts: new SqliteScriptStore(db, now),
    groups: new SqliteGroupStore(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: async () => {
      events.flush(); // queued events are written before the database closes
      // A lease ACKed after its fdatasync must not lose that flush to a close racing it (wal-sync.ts).
      await leaseConnection.walSync.close();
      leaseConnection.db.close();
      db.close();
    },
  };
}
