import { randomBytes } from 'node:crypto';
import type { Inventory } from '../machines/inventory.js';
import type { Machine, MachineState } from '../machines/model.js';
import type { Db } from './db.js';

interface MachineRow {
  id: string; hostname: string; state: string; boot_mac: string; arch: string; uuid: string | null;
  inventory: string | null; created_at: number; updated_at: number;
}

const toMachine = (r: MachineRow): Machine => ({
  id: r.id, hostname: r.hostname, state: r.state as MachineState, bootMac: r.boot_mac, arch: r.arch,
  uuid: r.uuid, inventory: r.inventory === null ? null : (JSON.parse(r.inventory) as Inventory),
  createdAt: r.created_at, updatedAt: r.updated_at,
});

const idAlphabet = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Short, readable system ids as MAAS uses them (6 characters, no look-alike letters). */
function newMachineId(): string {
  return [...randomBytes(6)].map((b) => idAlphabet[b % idAlphabet.length]).join('');
}

export interface EnlistResult { machine: Machine; created: boolean }

export class SqliteMachineStore {
  private readonly db: Db;
  private readonly byIdStmt;
  private readonly byMacStmt;
  private readonly byUuidStmt;
  private readonly listStmt;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.db = db;
    this.byIdStmt = db.prepare<{ key: string }, MachineRow>('SELECT * FROM machines WHERE id = @key OR hostname = @key');
    this.byMacStmt = db.prepare<{ mac: string }, MachineRow>(
      `SELECT m.* FROM machines m LEFT JOIN interfaces i ON i.machine_id = m.id
       WHERE m.boot_mac = @mac OR i.mac = @mac LIMIT 1`,
    );
    this.byUuidStmt = db.prepare<[string], MachineRow>('SELECT * FROM machines WHERE uuid = ?');
    this.listStmt = db.prepare<[], MachineRow>('SELECT * FROM machines ORDER BY created_at, id');
  }

  get(idOrHostname: string): Machine | undefined {
    const row = this.byIdStmt.get({ key: idOrHostname });
    return row && toMachine(row);
  }

  byMac(mac: string): Machine | undefined {
    const row = this.byMacStmt.get({ mac });
    return row && toMachine(row);
  }

  list(): Machine[] {
    return this.listStmt.all().map(toMachine);
  }

  /**
   * Creates the machine in state New, or updates the one that already owns this boot MAC, one of its
   * NICs, or its SMBIOS UUID: re-enlisting never duplicates a machine. One transaction.
   */
  enlist(inventory: Inventory, onAdopt: (machineId: string, macs: string[]) => void): EnlistResult {
    return this.db.transaction((): EnlistResult => {
      const macs = [...new Set([inventory.bootMac, ...inventory.nics.map((n) => n.mac)].map((m) => m.toLowerCase()))];
      const uuid = usableUuid(inventory.dmi.uuid);
      const existing = this.findExisting(macs, uuid);
      const at = this.now();
      const id = existing?.id ?? newMachineId();
      const bootMac = inventory.bootMac.toLowerCase();
      if (existing) {
        this.db.prepare(
          'UPDATE machines SET boot_mac = ?, arch = ?, uuid = ?, inventory = ?, updated_at = ? WHERE id = ?',
        ).run(bootMac, inventory.arch, uuid, JSON.stringify(inventory), at, id);
      } else {
        this.db.prepare(
          `INSERT INTO machines (id, hostname, state, boot_mac, arch, uuid, inventory, created_at, updated_at)
           VALUES (?, ?, 'New', ?, ?, ?, ?, ?, ?)`,
        ).run(id, `nb-${id}`, bootMac, inventory.arch, uuid, JSON.stringify(inventory), at, at);
      }
      this.replaceInterfaces(id, inventory);
      onAdopt(id, macs);
      return { machine: this.get(id)!, created: !existing };
    }).immediate();
  }

  private findExisting(macs: string[], uuid: string | null): Machine | undefined {
    for (const mac of macs) {
      const found = this.byMac(mac);
      if (found) return found;
    }
    const row = uuid ? this.byUuidStmt.get(uuid) : undefined;
    return row && toMachine(row);
  }

  private replaceInterfaces(machineId: string, inventory: Inventory): void {
    this.db.prepare('DELETE FROM interfaces WHERE machine_id = ?').run(machineId);
    const insert = this.db.prepare(
      `INSERT INTO interfaces (mac, machine_id, name, driver, link, speed_mbps) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(mac) DO UPDATE SET machine_id = excluded.machine_id, name = excluded.name,
         driver = excluded.driver, link = excluded.link, speed_mbps = excluded.speed_mbps`,
    );
    for (const nic of inventory.nics) {
      insert.run(nic.mac.toLowerCase(), machineId, nic.name, nic.driver, nic.link ? 1 : 0, nic.speedMbps);
    }
  }
}

/** QEMU without -uuid and much cheap firmware report all-zero or all-F UUIDs: not an identity. */
function usableUuid(raw: string): string | null {
  const uuid = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) return null;
  if (/^[0-]+$/.test(uuid) || /^[f-]+$/.test(uuid)) return null;
  return uuid;
}
