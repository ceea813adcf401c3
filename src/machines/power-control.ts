// Power for the machine service (STYLE.md §16: the domain owns power state): builds each machine's
// driver from its stored settings (secrets opened only here, src/power/sealing.ts), carries out
// actions with "next boot from the network" first, reads the power state, and records what it learnt
// on the machine: powerState 'on' | 'off' | 'unknown', or 'error' with the reason, and a timeline
// event when either changes. A driver failure never escapes as an exception: it becomes that state.
// The poll (every power.pollIntervalSeconds, as MAAS polls its BMCs) keeps the state fresh and clears
// an error at the next good answer.
import type { Logger } from 'pino';
import { openPowerSettings, sealPowerSettings, secretValues, type SecretCipher } from '../power/sealing.js';
import { PowerError, type BootFirmware, type PowerDriver, type PowerState } from '../power/driver.js';
import type { Store } from '../store/index.js';
import type { Machine, MachinePowerState, PowerSettingsValue } from './model.js';
import { PowerQueue } from './power-queue.js';
import { eventKey } from './boot.js';

export interface PowerControlDeps {
  readonly store: Store;
  readonly log: Logger;
  /** Builds a driver from opened (plain) settings. */
  readonly powerDriver: (settings: PowerSettingsValue) => PowerDriver;
  /** Seals secrets at rest; absent (tests of the life-cycle alone): settings are stored as given. */
  readonly secrets?: SecretCipher;
  readonly now: () => number;
}

/**
 * What an operator can ask of a machine's power outside the life-cycle (MAAS's power on/off): the
 * driver actions, and soft, the ACPI power button (IPMI `chassis power soft`, Redfish
 * GracefulShutdown), which lets the OS shut down cleanly or not at all.
 */
export const operatorPowerActions = ['on', 'off', 'cycle', 'soft'] as const;
export type OperatorPowerAction = (typeof operatorPowerActions)[number];

/** Power types whose state nobody can read: never polled. */
const unpolled: ReadonlySet<string> = new Set(['manual']);

export class PowerControl {
  /** One power action in flight per machine (power-queue.ts); polls queue behind actions too. */
  readonly queue: PowerQueue;
  private polling = false;

  constructor(private readonly deps: PowerControlDeps) {
    this.queue = new PowerQueue(deps.log);
  }

  /** Settings as they are stored: each secret sealed. */
  seal(settings: PowerSettingsValue): PowerSettingsValue {
    return this.deps.secrets ? sealPowerSettings(settings, this.deps.secrets) : settings;
  }

  /** Whether the machine's driver has the ACPI power button (false when its settings cannot be opened). */
  hasSoft(machine: Machine): boolean {
    try {
      return this.driverFor(machine).soft !== undefined;
    } catch {
      return false;
    }
  }

  /** Whether the machine's driver can read the system UUID from its BMC (Redfish; false when its settings cannot be opened). */
  readsSystemUuid(machine: Machine): boolean {
    try {
      return this.driverFor(machine).systemUuid !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * The SMBIOS system UUID the machine's BMC reports, lowercase; undefined when it reports none or
   * the driver cannot ask. A failure is a PowerError whose message has the machine's secrets blanked,
   * as every power failure that reaches the timeline.
   */
  async systemUuid(queued: Machine): Promise<string | undefined> {
    const machine = this.current(queued);
    try {
      return await this.driverFor(machine).systemUuid?.();
    } catch (err) {
      throw new PowerError(this.reason(machine, err));
    }
  }

  driverFor(machine: Machine): PowerDriver {
    const settings = this.deps.secrets ? openPowerSettings(machine.power, this.deps.secrets) : machine.power;
    return this.deps.powerDriver(settings);
  }

  /**
   * One action, with the boot device set to the network first for on and cycle (MAAS does the same
   * before every power-on): a failure there is a note and the power-on goes ahead, since many
   * machines boot from the network anyway. Returns whether the action succeeded.
   */
  async act(queued: Machine, action: OperatorPowerAction): Promise<boolean> {
    const machine = this.current(queued);
    const record = (type: 'power' | 'power-failed' | 'note', detail: string) => this.deps.store.events.record({ ...eventKey(machine), type, detail });
    try {
      const driver = this.driverFor(machine);
      if ((action === 'on' || action === 'cycle') && driver.setNextBootNetwork) {
        try {
          await driver.setNextBootNetwork(firmwareOf(machine));
        } catch (err) {
          record('note', `next boot from the network not set (${machine.power.type}): ${this.reason(machine, err)}; powering ${action === 'on' ? 'on' : 'cycling'} anyway`);
        }
      }
      if (action !== 'soft') await driver[action]();
      else if (driver.soft) await driver.soft();
      else throw new PowerError(`power type '${machine.power.type}' has no soft power-off (ACPI power button)`);
      record('power', `${action} (${machine.power.type})`);
      return true;
    } catch (err) {
      // The life-cycle state stands: its timer fails the machine if it never boots (as in MAAS).
      const reason = this.reason(machine, err);
      this.deps.log.warn({ machine: machine.id, reason }, `power ${action} failed`);
      record('power-failed', `${action}: ${reason}`);
      this.remember(machine, 'error', `${action}: ${reason}`);
      return false;
    }
  }

  /** Reads the power state and records it; undefined when the driver failed (recorded as 'error'). */
  async read(queued: Machine): Promise<PowerState | undefined> {
    const machine = this.current(queued);
    try {
      const state = await this.driverFor(machine).query();
      this.remember(machine, state, '');
      return state;
    } catch (err) {
      const reason = this.reason(machine, err);
      this.deps.log.debug({ machine: machine.id, reason }, 'power query failed');
      this.remember(machine, 'error', reason);
      return undefined;
    }
  }

  /**
   * Reads every pollable machine's power state, `concurrency` machines at a time, each behind its own
   * queued actions. A poll still running when the next is due is not doubled.
   */
  async poll(concurrency: number, signal?: AbortSignal): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = this.deps.store.machines.list().filter((m) => !unpolled.has(m.power.type)).map((m) => m.id);
      const next = () => ids.shift();
      const worker = async () => {
        for (let id = next(); id !== undefined && !signal?.aborted; id = next()) {
          const machineId = id;
          await this.queue.settle(machineId, async () => {
            const machine = this.deps.store.machines.get(machineId); // as it is now, not as listed
            if (machine && !unpolled.has(machine.power.type)) await this.read(machine);
          });
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    } finally {
      this.polling = false;
    }
  }

  /**
   * The machine as stored now, for its power settings: work is queued with the machine as it was
   * when queued, and the settings may have changed since (BMC adoption after commissioning, an
   * operator's `machines set --power`); the BMC must be reached as it is reachable now. Seen in
   * test/qemu/ipmi-power.test.ts: Testing's power cycle went out with the BMC's admin account after
   * the appliance had switched the machine to the user it created.
   */
  private current(queued: Machine): Machine {
    return this.deps.store.machines.get(queued.id) ?? queued;
  }

  /**
   * The power settings changed: what was read or failed with the old ones (a wrong address's
   * 'error') says nothing about the new BMC, so the state is 'unknown' until the next read.
   */
  settingsChanged(machine: Machine): void {
    this.remember(machine, 'unknown', '');
  }

  /**
   * Stores what was learnt with `used` (the machine as the action or query saw it); a change of
   * state or of the error's reason goes on the timeline. An answer got with power settings that
   * have been replaced meanwhile (an action queued before `machines set --power`) is dropped: it
   * would put the old BMC's error back on the machine.
   */
  private remember(used: Machine, state: MachinePowerState, error: string): void {
    const before = this.deps.store.machines.get(used.id);
    if (!before) return; // deleted meanwhile
    if (JSON.stringify(before.power) !== JSON.stringify(used.power)) return;
    this.deps.store.machines.setPowerState(used.id, state, error, this.deps.now());
    if (before.powerState === state && before.powerError === error) return;
    const was = before.powerState === 'error' ? ` (was error: ${before.powerError})` : '';
    const detail = state === 'error' ? `error: ${error}` : `${state}${was}`;
    this.deps.store.events.record({ ...eventKey(before), type: 'power-state', detail, data: { state } });
  }

  /**
   * The driver's message, with every secret of the machine's settings blanked: a BMC or webhook that
   * echoes a credential into an error must not put it in the log or on the timeline.
   */
  private reason(machine: Machine, err: unknown): string {
    let message = err instanceof Error ? err.message : String(err);
    for (const secret of this.secretsOf(machine)) if (secret.length >= 3) message = message.split(secret).join('(secret)');
    return message;
  }

  private secretsOf(machine: Machine): string[] {
    try {
      return secretValues(this.deps.secrets ? openPowerSettings(machine.power, this.deps.secrets) : machine.power);
    } catch {
      return []; // sealed with another key: nothing opened, so nothing in the clear to blank
    }
  }
}

/**
 * How the machine's firmware boots: as its inventory reports it (the enlist agent and 00-inventory
 * look for /sys/firmware/efi), else what its arch names, in the Booter's spelling of RFC 4578 §2.1 option 93
 * (src/machines/boot.ts Arch: 'x86_64-efi', 'arm64-efi' are UEFI, 'x86' is BIOS). Anything else
 * (`uname -m` from the enlistment inventory, 'unknown') says nothing about the firmware: undefined,
 * and the driver leaves the boot mode to the BMC as before.
 */
export function firmwareOf(machine: Pick<Machine, 'arch' | 'inventory'>): BootFirmware | undefined {
  if (machine.inventory?.firmware) return machine.inventory.firmware;
  if (/-efi$/.test(machine.arch)) return 'uefi';
  if (machine.arch === 'x86') return 'bios';
  return undefined;
}
