import { randomBytes } from 'node:crypto';
import type { BootPurpose } from '../machines/boot.js';
import type { Inventory } from '../machines/inventory.js';
import type { Deployment, EraseMode, Machine, MachinePowerState, MachineState, PowerSettingsValue } from '../machines/model.js';
import type { Db } from './db.js';
import { ConflictError } from '../errors.js';

interface MachineRow {
  id: string; hostname: string; state: string; boot_mac: string | null; arch: string; uuid: string | null;
  inventory: string | null; created_at: number; updated_at: number;
  locked: number; notes: string; zone: string; pool: string; power: string; boot_purpose: string | null;
  token: string | null; run_id: number | null; skip_tests: number; commissioned: number;
  before_rescue: string | null; status_message: string; timer: string | null; timer_deadline: number | null;
  tags: string | null; user_data: string; deployment: string | null; erase_mode: string | null;
  power_state: string; power_error: string; power_checked_at: number | null;
}

const toMachine = (r: MachineRow): Machine => ({
  id: r.id, hostname: r.hostname, state: r.state as MachineState, bootMac: r.boot_mac, arch: r.arch,
  uuid: r.uuid, inventory: r.inventory === null ? null : (JSON.parse(r.inventory) as Inventory),
  createdAt: r.created_at, updatedAt: r.updated_at,
  locked: r.locked === 1, notes: r.notes, zone: r.zone, pool: r.pool,
  power: JSON.parse(r.power) as PowerSettingsValue,
  powerState: r.power_state as MachinePowerState, powerError: r.power_error, powerCheckedAt: r.power_checked_at,
  bootPurpose: r.boot_purpose as BootPurpose | null,
  token: r.token, runId: r.run_id, skipTests: r.skip_tests === 1, commissioned: r.commissioned === 1,
  beforeRescue: r.before_rescue as MachineState | null, statusMessage: r.status_message,
  timer: r.timer === null || r.timer_deadline === null ? null : { name: r.timer, deadline: r.timer_deadline },
  tags: r.tags ? r.tags.split('\n').sort() : [],
  userData: r.user_data,
  deployment: r.deployment === null ? null : (JSON.parse(r.deployment) as Deployment),
  eraseMode: r.erase_mode as EraseMode | null,
});

/** Every machine query selects this: the row plus its tags (newline separated). */
const machineColumns = `m.*, (SELECT group_concat(tag, char(10)) FROM machine_tags t WHERE t.machine_id = m.id) AS tags`;

/** The operator- and service-writable fields, by their Machine name. */
export interface MachinePatch {
  readonly state?: MachineState;
  readonly hostname?: string;
  readonly locked?: boolean;
  readonly notes?: string;
  readonly zone?: string;
  readonly pool?: string;
  readonly power?: PowerSettingsValue;
  readonly bootPurpose?: BootPurpose | null;
  readonly token?: string | null;
  readonly runId?: number | null;
  readonly skipTests?: boolean;
  readonly commissioned?: boolean;
  readonly beforeRescue?: MachineState | null;
  readonly statusMessage?: string;
  readonly timer?: { readonly name: string; readonly deadline: number } | null;
  readonly inventory?: Inventory;
  readonly userData?: string;
  readonly deployment?: Deployment | null;
  readonly eraseMode?: EraseMode | null;
}

function patchColumns(patch: MachinePatch): Record<string, unknown> {
  const columns: Record<string, unknown> = {};
  const bool = (value: boolean) => (value ? 1 : 0);
  if (patch.state !== undefined) columns.state = patch.state;
  if (patch.hostname !== undefined) columns.hostname = patch.hostname;
  if (patch.locked !== undefined) columns.locked = bool(patch.locked);
  if (patch.notes !== undefined) columns.notes = patch.notes;
  if (patch.zone !== undefined) columns.zone = patch.zone;
  if (patch.pool !== undefined) columns.pool = patch.pool;
  if (patch.power !== undefined) columns.power = JSON.stringify(patch.power);
  if (patch.bootPurpose !== undefined) columns.boot_purpose = patch.bootPurpose;
  if (patch.token !== undefined) columns.token = patch.token;
  if (patch.runId !== undefined) columns.run_id = patch.runId;
  if (patch.skipTests !== undefined) columns.skip_tests = bool(patch.skipTests);
  if (patch.commissioned !== undefined) columns.commissioned = bool(patch.commissioned);
  if (patch.beforeRescue !== undefined) columns.before_rescue = patch.beforeRescue;
  if (patch.statusMessage !== undefined) columns.status_message = patch.statusMessage;
  if (patch.timer !== undefined) {
    columns.timer = patch.timer?.name ?? null;
    columns.timer_deadline = patch.timer?.deadline ?? null;
  }
  if (patch.userData !== undefined) columns.user_data = patch.userData;
  if (patch.deployment !== undefined) columns.deployment = patch.deployment === null ? null : JSON.stringify(patch.deployment);
  if (patch.eraseMode !== undefined) columns.erase_mode = patch.eraseMode;
  if (patch.inventory !== undefined) {
    columns.inventory = JSON.stringify(patch.inventory);
    columns.arch = patch.inventory.arch;
  }
  return columns;
}

/**
 * SQL for the id of the machine that owns a MAC, by boot MAC first (a machine added by hand has no
 * interfaces until commissioning reports its NICs), then by NIC: two index lookups
 * (machines.boot_mac is UNIQUE, interfaces.mac the key). `param` is the statement's parameter.
 * Machine lookups and event attribution (events-repo.ts) both use it, so they never disagree.
 */
export function machineOwningMac(param: string): string {
  return `coalesce((SELECT id FROM machines WHERE boot_mac = ${param}), (SELECT machine_id FROM interfaces WHERE mac = ${param}))`;
}

const idAlphabet = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Short, readable system ids as MAAS uses them (6 characters, no look-alike letters). */
function newMachineId(): string {
  return [...randomBytes(6)].map((b) => idAlphabet[b % idAlphabet.length]).join('');
}

/**
 * created: a new machine; claimed: the enlisting machine is one the operator added by its BMC alone
 * (no boot MAC yet), which now has its boot MAC and inventory; claimedBy: how it was recognised, by
 * the BMC address it reports in-band or by the system UUID its BMC reported (Redfish).
 */
export interface EnlistResult {
  machine: Machine; created: boolean; claimed?: boolean; claimedBy?: 'bmc-address' | 'uuid';
  /** Claimed by its BMC address, the machine reports another system UUID than its BMC did: the BMC's, replaced. */
  bmcUuidReplaced?: string;
}

/** Picks, among the machines added by their BMC and not enlisted yet, the one this inventory is. */
export type BmcClaim = (waiting: readonly Machine[], inventory: Inventory) => Machine | undefined;

/** Enlistment refused: the machines it would have changed, so their timelines can say so. */
export class EnlistRefusedError extends ConflictError {
  constructor(reason: string, readonly owners: readonly Machine[]) {
    super(`enlistment refused: ${reason}`);
  }
}

export class SqliteMachineStore {
  private readonly db: Db;
  private readonly byIdStmt;
  private readonly byMacStmt;
  private readonly byUuidStmt;
  private readonly listStmt;
  private readonly byTokenStmt;
  private readonly waitingStmt;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.db = db;
    this.byIdStmt = db.prepare<{ key: string }, MachineRow>(`SELECT ${machineColumns} FROM machines m WHERE id = @key OR hostname = @key`);
    // Two index lookups (boot_mac is UNIQUE, interfaces.mac the key), not a join: an OR across the
    // join scanned every machine, on every DHCP packet, iPXE script and grub.cfg.
    this.byMacStmt = db.prepare<{ mac: string }, MachineRow>(
      `SELECT ${machineColumns} FROM machines m WHERE m.id = ${machineOwningMac('@mac')}`,
    );
    this.byUuidStmt = db.prepare<[string], MachineRow>(`SELECT ${machineColumns} FROM machines m WHERE uuid = ?`);
    this.listStmt = db.prepare<[], MachineRow>(`SELECT ${machineColumns} FROM machines m ORDER BY created_at, id`);
    this.byTokenStmt = db.prepare<[string], MachineRow>(`SELECT ${machineColumns} FROM machines m WHERE token = ?`);
    this.waitingStmt = db.prepare<[], MachineRow>(`SELECT ${machineColumns} FROM machines m WHERE boot_mac IS NULL AND state = 'New' AND locked = 0`);
  }

  byToken(token: string): Machine | undefined {
    const row = this.byTokenStmt.get(token);
    return row && toMachine(row);
  }

  /** Changes the given fields; returns the machine as stored, or undefined when there is none. */
  update(id: string, patch: MachinePatch): Machine | undefined {
    const columns = patchColumns(patch);
    const names = Object.keys(columns);
    if (names.length > 0) {
      const assignments = [...names.map((n) => `${n} = @${n}`), 'updated_at = @updated_at'].join(', ');
      this.db.prepare(`UPDATE machines SET ${assignments} WHERE id = @id`).run({ ...columns, updated_at: this.now(), id });
    }
    return this.get(id);
  }

  /**
   * A machine added by hand (MAC and power settings; the inventory comes from commissioning).
   * Throws when the MAC already belongs to a machine; the caller checks first for a clear error.
   * A status message and a timer, when given, are written in the same transaction: a restart never
   * finds the record without them (a machine added by its BMC, machine-adding.ts).
   */
  create(fields: {
    readonly bootMac: string | null; readonly skipTests?: boolean; readonly hostname?: string; readonly arch?: string; readonly power: PowerSettingsValue;
    readonly statusMessage?: string; readonly timer?: MachinePatch['timer'];
  }): Machine {
    return this.db.transaction(() => {
      const id = newMachineId();
      const at = this.now();
      this.db.prepare(
        `INSERT INTO machines (id, hostname, state, boot_mac, arch, uuid, inventory, created_at, updated_at, power, skip_tests)
         VALUES (?, ?, 'New', ?, ?, NULL, NULL, ?, ?, ?, ?)`,
      ).run(id, fields.hostname ?? `nb-${id}`, fields.bootMac, fields.arch ?? 'unknown', at, at, JSON.stringify(fields.power), fields.skipTests ? 1 : 0);
      if (fields.statusMessage !== undefined || fields.timer) {
        return this.update(id, { ...(fields.statusMessage !== undefined ? { statusMessage: fields.statusMessage } : {}), ...(fields.timer ? { timer: fields.timer } : {}) })!;
      }
      return this.get(id)!;
    }).immediate();
  }

  /**
   * The SMBIOS system UUID the BMC of a machine added by its BMC alone reports (Redfish,
   * machine-adding.ts), stored while the machine still waits (New, no boot MAC) and only if no other
   * machine has it: enlist() recognises machines by their UUID, so one UUID must name one machine.
   * Returns whether it was stored, and the machine that already has it, if one does.
   */
  setWaitingUuid(id: string, uuid: string): { set: boolean; owner?: Machine } {
    return this.db.transaction(() => {
      const owner = this.byUuidStmt.get(uuid);
      if (owner && owner.id !== id) return { set: false, owner: toMachine(owner) };
      const changes = this.db.prepare(`UPDATE machines SET uuid = ?, updated_at = ? WHERE id = ? AND boot_mac IS NULL AND state = 'New'`)
        .run(uuid, this.now(), id).changes;
      return { set: changes > 0 };
    }).immediate();
  }

  /**
   * What the power driver last said (the poll, an action). Not a change of the machine: updated_at
   * stays, so cached cloud-init documents keyed by it (src/cloud-init/cache.ts) survive every poll.
   */
  setPowerState(id: string, state: MachinePowerState, error: string, at: number): void {
    this.db.prepare('UPDATE machines SET power_state = ?, power_error = ?, power_checked_at = ? WHERE id = ?').run(state, error, at, id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM machines WHERE id = ?').run(id).changes > 0;
  }

  /** Replaces the machine's NICs from a new inventory (commissioning). */
  setInventory(id: string, inventory: Inventory): Machine | undefined {
    return this.db.transaction(() => {
      this.replaceInterfaces(id, inventory);
      return this.update(id, { inventory });
    })();
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
   * Anonymous enlistment: creates the machine in state New, or refreshes the inventory of the one
   * machine that owns these MACs or this SMBIOS UUID while it is still New and unlocked. Anything else
   * is refused with nothing changed (EnlistRefusedError): an anonymous request never changes a
   * machine past New, never re-points a boot MAC and never moves another machine's NIC (probe F1;
   * MAAS's anonymous API only creates). One transaction, so concurrent enlistments of one machine
   * still make one machine.
   */
  enlist(inventory: Inventory, onAdopt: (machineId: string, macs: string[]) => void, claim?: BmcClaim): EnlistResult {
    return this.db.transaction((): EnlistResult => {
      const macs = [...new Set([inventory.bootMac, ...inventory.nics.map((n) => n.mac)].map((m) => m.toLowerCase()))];
      const uuid = usableUuid(inventory.dmi.uuid);
      // Which machine this is: the owner of the boot MAC, else of the SMBIOS UUID (the same machine
      // booting from another NIC). Every other MAC and the UUID must be unowned or that machine's.
      const uuidRow = uuid ? this.byUuidStmt.get(uuid) : undefined;
      const known = this.byMac(inventory.bootMac.toLowerCase()) ?? (uuidRow && toMachine(uuidRow));
      // A machine found by UUID with no boot MAC is one added by its BMC alone whose BMC reported
      // that UUID (Redfish): its first boot, claimed as by the BMC address. Else, with nothing known,
      // a waiting machine whose BMC address the inventory reports (issue 14).
      let claimed: Machine | undefined;
      let claimedBy: EnlistResult['claimedBy'];
      if (known?.bootMac === null) {
        [claimed, claimedBy] = [known, 'uuid'];
      } else if (!known) {
        claimed = this.claimable(inventory, claim);
        if (claimed) claimedBy = 'bmc-address';
      }
      const existing = known ?? claimed;
      const others = this.owners(macs, uuid).filter((m) => m.id !== existing?.id);
      if (others.length > 0) {
        throw new EnlistRefusedError('a MAC or the UUID it reports belongs to another machine', others);
      }
      if (existing && (existing.locked || existing.state !== 'New')) {
        const why = existing.locked ? 'locked' : existing.state;
        throw new EnlistRefusedError(claimed
          ? `it is the machine added by its BMC with this system UUID, and ${why}: only a New, unlocked machine is claimed by its first boot`
          : `it is already enlisted and ${why}: only New, unlocked machines are refreshed by enlistment; commissioning updates the inventory`, [existing]);
      }
      const at = this.now();
      const id = existing?.id ?? newMachineId();
      if (claimed) {
        // Its first boot: the boot MAC is set once, here, and only where there was none. The UUID is
        // the machine's own (SMBIOS) where it reports one: that is what later enlistments report, and
        // some BMCs give the system UUID with its first three fields byte-swapped (SMBIOS 2.6 §7.2.1).
        this.db.prepare('UPDATE machines SET boot_mac = ?, arch = ?, uuid = coalesce(?, uuid), inventory = ?, updated_at = ? WHERE id = ? AND boot_mac IS NULL')
          .run(inventory.bootMac.toLowerCase(), inventory.arch, uuid, JSON.stringify(inventory), at, id);
      } else if (existing) {
        // The boot MAC stays: the machine's identity is not the anonymous sender's to change.
        this.db.prepare('UPDATE machines SET arch = ?, uuid = coalesce(uuid, ?), inventory = ?, updated_at = ? WHERE id = ?')
          .run(inventory.arch, uuid, JSON.stringify(inventory), at, id);
      } else {
        this.db.prepare(
          `INSERT INTO machines (id, hostname, state, boot_mac, arch, uuid, inventory, created_at, updated_at)
           VALUES (?, ?, 'New', ?, ?, ?, ?, ?, ?)`,
        ).run(id, `nb-${id}`, inventory.bootMac.toLowerCase(), inventory.arch, uuid, JSON.stringify(inventory), at, at);
      }
      this.replaceInterfaces(id, inventory);
      onAdopt(id, macs);
      const bmcUuidReplaced = claimed?.uuid && uuid && claimed.uuid !== uuid ? claimed.uuid : undefined;
      return { machine: this.get(id)!, created: !existing, ...(claimed ? { claimed: true, claimedBy } : {}), ...(bmcUuidReplaced ? { bmcUuidReplaced } : {}) };
    }).immediate();
  }

  /** The New, unlocked machine with no boot MAC yet that `claim` says this inventory is, if any. */
  private claimable(inventory: Inventory, claim: BmcClaim | undefined): Machine | undefined {
    if (!claim || !inventory.bmc) return undefined;
    const waiting = this.waitingStmt.all().map(toMachine);
    return waiting.length > 0 ? claim(waiting, inventory) : undefined;
  }

  /** Every machine that owns one of these MACs (boot MAC or NIC) or this UUID, each once. */
  private owners(macs: string[], uuid: string | null): Machine[] {
    const found = new Map<string, Machine>();
    for (const mac of macs) {
      const machine = this.byMac(mac);
      if (machine) found.set(machine.id, machine);
    }
    const row = uuid ? this.byUuidStmt.get(uuid) : undefined;
    if (row) found.set(row.id, toMachine(row));
    return [...found.values()];
  }

  private replaceInterfaces(machineId: string, inventory: Inventory): void {
    this.db.prepare('DELETE FROM interfaces WHERE machine_id = ?').run(machineId);
    const insert = this.db.prepare(
      // A NIC another machine owns stays that machine's: an inventory never moves it (probe F1).
      `INSERT INTO interfaces (mac, machine_id, name, driver, link, speed_mbps) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(mac) DO UPDATE SET name = excluded.name,
         driver = excluded.driver, link = excluded.link, speed_mbps = excluded.speed_mbps
       WHERE interfaces.machine_id = excluded.machine_id`,
    );
    for (const nic of inventory.nics) {
      insert.run(nic.mac.toLowerCase(), machineId, nic.name, nic.driver, nic.link ? 1 : 0, nic.speedMbps);
    }
  }
}

/**
 * The SMBIOS UUID, lowercase, when it can name a machine. QEMU without -uuid and much cheap firmware
 * report all-zero or all-F UUIDs: not an identity.
 */
export function usableUuid(raw: string): string | null {
  const uuid = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) return null;
  if (/^[0-]+$/.test(uuid) || /^[f-]+$/.test(uuid)) return null;
  return uuid;
}
