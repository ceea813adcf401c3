import type { RelayInfo, RelaySink } from '../dhcp/placement.js';
import type { Db } from './db.js';

export interface RelayRecord extends RelayInfo {
  readonly mac: string;
  readonly zone?: string;
  readonly pool?: string;
  readonly seenAt: number;
}

interface RelayRow {
  mac: string; giaddr: string | null; circuit_id: string | null; remote_id: string | null;
  zone: string | null; pool: string | null; seen_at: number;
}

function toRecord(row: RelayRow): RelayRecord {
  return {
    mac: row.mac, seenAt: row.seen_at,
    ...(row.giaddr === null ? {} : { giaddr: row.giaddr }),
    ...(row.circuit_id === null ? {} : { circuitId: row.circuit_id }),
    ...(row.remote_id === null ? {} : { remoteId: row.remote_id }),
    ...(row.zone === null ? {} : { zone: row.zone }),
    ...(row.pool === null ? {} : { pool: row.pool }),
  };
}

/**
 * Relay agent information per MAC (DHCP giaddr and option 82), and the zone and pool a placement
 * rule gave it. Written only when something changed: every renewal of a relayed client would
 * otherwise cost a disk write.
 */
export class SqliteRelayStore implements RelaySink {
  private readonly upsert;
  private readonly byMacStmt;
  private readonly cache = new Map<string, string>();

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.upsert = db.prepare(
      `INSERT INTO relay_info (mac, giaddr, circuit_id, remote_id, zone, pool, seen_at)
       VALUES (@mac, @giaddr, @circuitId, @remoteId, @zone, @pool, @seenAt)
       ON CONFLICT(mac) DO UPDATE SET giaddr = excluded.giaddr, circuit_id = excluded.circuit_id,
         remote_id = excluded.remote_id, zone = excluded.zone, pool = excluded.pool, seen_at = excluded.seen_at`,
    );
    this.byMacStmt = db.prepare<[string], RelayRow>('SELECT * FROM relay_info WHERE mac = ?');
  }

  record(mac: string, info: RelayInfo, placement: { readonly zone?: string; readonly pool?: string }): void {
    const row = {
      mac, giaddr: info.giaddr ?? null, circuitId: info.circuitId ?? null, remoteId: info.remoteId ?? null,
      zone: placement.zone ?? null, pool: placement.pool ?? null,
    };
    const key = JSON.stringify(row);
    if (this.cache.get(mac) === key) return;
    this.upsert.run({ ...row, seenAt: this.now() });
    this.cache.set(mac, key);
  }

  byMac(mac: string): RelayRecord | undefined {
    const row = this.byMacStmt.get(mac);
    return row && toRecord(row);
  }
}
