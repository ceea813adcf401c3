import type { Lease, LeaseState, LeaseStore } from '../dhcp/lease-store.js';
import type { Db } from './db.js';

interface LeaseRow { mac: string; ip: string; state: string; expires_at: number; hostname: string | null }

function toLease(row: LeaseRow): Lease {
  const lease: Lease = { mac: row.mac, ip: row.ip, state: row.state as LeaseState, expiresAt: row.expires_at };
  return row.hostname === null ? lease : { ...lease, hostname: row.hostname };
}

/**
 * SQLite LeaseStore: each upsertMany is one committed transaction (synchronous=FULL), so it is durable
 * on return. `joinCommit` runs inside that transaction first: the store hands it the queued machine
 * events, so a DHCP turn pays one fsync for its leases and its timeline together.
 */
export class SqliteLeaseStore implements LeaseStore {
  private readonly byMacStmt;
  private readonly byIpStmt;
  private readonly allStmt;
  private readonly upsertTx;

  constructor(db: Db, joinCommit: () => void = () => undefined) {
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
    // One transaction, one fsync, for a whole batch: the DHCP server's group commit.
    this.upsertTx = db.transaction((leases: readonly Lease[]) => {
      joinCommit();
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

  all(): Lease[] {
    return this.allStmt.all().map(toLease);
  }
}
