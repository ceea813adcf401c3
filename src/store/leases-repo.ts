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
    const freeIp = db.prepare('DELETE FROM leases WHERE ip = ? AND mac <> ?');
    const upsert = db.prepare(
      `INSERT INTO leases (mac, ip, state, expires_at, hostname) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(mac) DO UPDATE SET ip = excluded.ip, state = excluded.state,
         expires_at = excluded.expires_at, hostname = excluded.hostname`,
    );
    // The allocation policy only hands out an address that is free or expired; an expired lease of
    // another MAC on that address is dropped in the same transaction, keeping ip UNIQUE.
    // One transaction for a whole batch: the DHCP server's group commit.
    this.upsertTx = db.transaction((leases: readonly Lease[]) => {
      for (const lease of leases) {
        freeIp.run(lease.ip, lease.mac);
        upsert.run(lease.mac, lease.ip, lease.state, lease.expiresAt, lease.hostname ?? null);
      }
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
