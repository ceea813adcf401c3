import type { Lease, LeaseState, LeaseStore } from '../dhcp/lease-store.js';
import type { Db } from './db.js';
import type { WalSync } from './wal-sync.js';

interface LeaseRow { mac: string; ip: string; state: string; expires_at: number; hostname: string | null }

function toLease(row: LeaseRow): Lease {
  const lease: Lease = { mac: row.mac, ip: row.ip, state: row.state as LeaseState, expiresAt: row.expires_at };
  return row.hostname === null ? lease : { ...lease, hostname: row.hostname };
}

/**
 * SQLite LeaseStore on its own connection (db.ts openLeaseConnection): each upsertMany is one
 * committed transaction that survives a crash of the process on return, and `sync` makes it survive a
 * power loss too (an fdatasync of the WAL on the thread pool, shared by the commits made meanwhile).
 */
export class SqliteLeaseStore implements LeaseStore {
  private readonly byMacStmt;
  private readonly byIpStmt;
  private readonly allStmt;
  private readonly upsertTx;

  constructor(db: Db, private readonly walSync: WalSync) {
    this.byMacStmt = db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE mac = ?');
    this.byIpStmt = db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE ip = ?');
    this.allStmt = db.prepare<[], LeaseRow>('SELECT * FROM leases ORDER BY ip');
    // One lease per MAC (the primary key) and one MAC per address (ip UNIQUE): REPLACE deletes the
    // MAC's old row and, when the policy hands out an expired or released address, the row of the
    // MAC that last held it, then inserts; one statement where an upsert needed a DELETE first.
    const upsert = db.prepare('INSERT OR REPLACE INTO leases (mac, ip, state, expires_at, hostname) VALUES (?, ?, ?, ?, ?)');
    // One transaction for a whole batch: the DHCP server's group commit.
    this.upsertTx = db.transaction((leases: readonly Lease[]) => {
      for (const lease of leases) upsert.run(lease.mac, lease.ip, lease.state, lease.expiresAt, lease.hostname ?? null);
    });
  }

  byMac(mac: string): Lease | undefined {
    const row = this.byMacStmt.get(mac);
    return row && toLease(row);
  }

  byIp(ip: string): Lease | undefined {
    const row = this.byIpStmt.get(ip);
    return row && toLease(row);
  }

  upsertMany(leases: readonly Lease[]): void {
    this.upsertTx(leases);
  }

  sync(): Promise<void> {
    return this.walSync.sync();
  }

  all(): Lease[] {
    return this.allStmt.all().map(toLease);
  }
}
