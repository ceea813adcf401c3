// Power for the machine service (STYLE.md §16: the domain owns power state): builds each machine's
// driver from its stored settings (secrets opened only here, src/power/sealing.ts), carries out
// actions with "next boot from the network" first, reads the power state, and records what it learnt
// on the machine: powerState 'on' | 'off' | 'unknown', or 'error' with the reason, and a timeline
// event when either changes. A driver failure never escapes as an exception: it becomes that state.
// The poll (every power.pollIntervalSeconds, as MAAS polls its BMCs) keeps the state fresh and clears
// an error at the next good answer.
import type { Logger } from 'pino';
import { openPowerSettings, sealPowerSettings, secretValues, type SecretCipher } from '../power/sealing.js';
import type { PowerAction, PowerDriver, PowerState } from '../power/driver.js';
import type { Store } from '../store/index.js';
import type { Machine, MachinePowerState, PowerSettingsValue } from './model.js';
import { PowerQueue } from './power-queue.js';

export interface PowerControlDeps {
  readonly store: Store;
  readonly log: Logger;
  /** Builds a driver from opened (plain) settings. */
  readonly powerDriver: (settings: PowerSettingsValue) => PowerDriver;
  /** Seals secrets at rest; absent (tests of the life-cycle alone): settings are stored as given. */
  readonly secrets?: SecretCipher;
  readonly now: () => number;
}

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

  driverFor(machine: Machine): PowerDriver {
    const settings = this.deps.secrets ? openPowerSettings(machine.power, this.deps.secrets) : machine.power;
    return this.deps.powerDriver(settings);
  }

  /**
   * One action, with the boot device set to the network first for on and cycle (MAAS does the same
   * before every power-on): a failure there is a note and the power-on goes ahead, since many
   * machines boot from the network anyway. Returns whether the action succeeded.
   */
  async act(queued: Machine, action: PowerAction): Promise<boolean> {
    const machine = this.current(queued);
    const record = (type: 'power' | 'power-failed' | 'note', detail: string) => this.deps.store.events.record({ mac: machine.bootMac, type, detail });
    try {
      const driver = this.driverFor(machine);
      if (action !== 'off' && driver.setNextBootNetwork) {
        try {
          await driver.setNextBootNetwork();
        } catch (err) {
          record('note', `next boot from the network not set (${machine.power.type}): ${this.reason(machine, err)}; powering ${action === 'on' ? 'on' : 'cycling'} anyway`);
        }
      }
      await driver[action]();
      record('power', `${action} (${machine.power.type})`);
      return true;
    } catch (err) {
      // The life-cycle state stands: its timer fails the machine if it never boots (as in MAAS).
      const reason = this.reason(machine, err);
      this.deps.log.warn({ machine: machine.id, reason }, `power ${action} failed`);
      record('power-failed', `${action}: ${reason}`);
      this.remember(machine.id, 'error', `${action}: ${reason}`);
      return false;
    }
  }

  /** Reads the power state and records it; undefined when the driver failed (recorded as 'error'). */
  async read(queued: Machine): Promise<PowerState | undefined> {
    const machine = this.current(queued);
    try {
      const state = await this.driverFor(machine).query();
      this.remember(machine.id, state, '');
      return state;
    } catch (err) {
      const reason = this.reason(machine, err);
      this.deps.log.debug({ machine: machine.id, reason }, 'power query failed');
      this.remember(machine.id, 'error', reason);
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

  /** Stores what was learnt; a change of state or of the error's reason goes on the timeline. */
  private remember(id: string, state: MachinePowerState, error: string): void {
    const before = this.deps.store.machines.get(id);
    if (!before) return; // deleted meanwhile
    this.deps.store.machines.setPowerState(id, state, error, this.deps.now());
    if (before.powerState === state && before.powerError === error) return;
    const was = before.powerState === 'error' ? ` (was error: ${before.powerError})` : '';
    const detail = state === 'error' ? `error: ${error}` : `${state}${was}`;
    this.deps.store.events.record({ mac: before.bootMac, type: 'power-state', detail, data: { state } });
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
