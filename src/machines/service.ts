// The machine service: operator actions, machine callbacks and timers go through the pure life-cycle
// table (lifecycle.ts); this file stores the outcome and carries out the effects, in the table's
// order: token, script run, boot purpose, notes and timer are written in one transaction, then the
// power driver is called (ARCHITECTURE.md "Life-cycle"). Timers are stored as deadlines, so a restart
// re-arms them and a machine that died mid-boot still times out into its Failed state.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { machineMacProblem } from '../schemas.js';
import type { MachinePatch, Store } from '../store/index.js';
import type { PowerDriver } from '../power/driver.js';
import {
  factsAfter, transition, type Effect, type LifecycleEvent, type MachineFacts, type TimerName,
} from './lifecycle.js';
import type { Machine, PowerSettingsValue } from './model.js';
import { normaliseMac } from './boot.js';
import { scriptProblem, scriptsForPhase, type RunnableScript } from '../enlist/scripts.js';
import { fromStored } from '../enlist/scripts.js';
import { MachineTimers } from './timers.js';

export interface MachineServiceDeps {
  readonly store: Store;
  readonly powerDriver: (settings: PowerSettingsValue) => PowerDriver;
  /** Seconds each life-cycle timer runs before the machine is failed for not calling back. */
  readonly timeouts: Readonly<Record<TimerName, number>>;
  readonly builtinScripts: readonly RunnableScript[];
  readonly log: Logger;
  readonly now?: () => number;
}

/** States whose phase completes when the machine is off: nothing boots to call back. */
const completesOnPowerOff = new Set(['Releasing', 'Exiting rescue']);

export class MachineService {
  private readonly now: () => number;
  private readonly timers: MachineTimers;

  constructor(private readonly deps: MachineServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.timers = new MachineTimers(this.now, (id, deadline) => this.onTimer(id, deadline), deps.log);
  }

  /** Re-arms the stored timers (after a restart, overdue ones fire at once). */
  start(): void {
    for (const machine of this.deps.store.machines.list()) {
      if (machine.timer) this.timers.arm(machine.id, machine.timer.deadline);
    }
  }

  close(): void {
    this.timers.clear();
  }

  get(key: string): Machine {
    const mac = normaliseMac(key);
    const machine = this.deps.store.machines.get(key) ?? (mac ? this.deps.store.machines.byMac(mac) : undefined);
    if (!machine) throw new NotFoundError(`no machine '${key}': see \`netboot machines list\``);
    return machine;
  }

  /** An operator action, a callback or a timer: through the table, stored, then carried out. */
  async act(key: string, event: LifecycleEvent): Promise<Machine> {
    const before = this.get(key);
    const result = transition(facts(before), event);
    if (!result.ok) throw new ConflictError(result.reason);
    const after = this.store(before, event, result.state, result.effects);
    await this.power(after, result.effects);
    if (completesOnPowerOff.has(after.state) && !result.effects.some((e) => e.kind === 'start-timer')) {
      return this.act(after.id, { type: 'phase-passed' });
    }
    return this.deps.store.machines.get(after.id)!;
  }

  /** A machine added by hand: MAC and power settings; commissioning starts at once (as in MAAS). */
  async add(fields: { mac: string; power: PowerSettingsValue; hostname?: string; skipTests?: boolean }): Promise<Machine> {
    const mac = normaliseMac(fields.mac);
    if (!mac) throw new ConflictError(`'${fields.mac}' is not a MAC address`);
    // Probe F12: broadcast, multicast and all-zero MACs were added as machines.
    const problem = machineMacProblem(mac);
    if (problem) throw new ValidationError(problem);
    const existing = this.deps.store.machines.byMac(mac);
    if (existing) throw new ConflictError(`MAC ${mac} already belongs to machine ${existing.id} (${existing.hostname})`);
    if (fields.hostname && this.deps.store.machines.get(fields.hostname)) {
      throw new ConflictError(`hostname ${fields.hostname} is taken`);
    }
    const machine = this.deps.store.machines.create({
      bootMac: mac, power: fields.power, ...(fields.hostname ? { hostname: fields.hostname } : {}),
    });
    this.deps.store.events.record({ mac, type: 'machine-added', detail: `${machine.id} by hand, power ${fields.power.type}` });
    return this.act(machine.id, { type: 'commission', ...(fields.skipTests ? { skipTests: true } : {}) });
  }

  /** Lock, notes, zone, pool, power, hostname: fields outside the table. A lock blocks power changes too. */
  update(key: string, patch: Pick<MachinePatch, 'locked' | 'notes' | 'zone' | 'pool' | 'power' | 'hostname'>): Machine {
    const machine = this.get(key);
    const { groups, machines } = this.deps.store;
    if (patch.zone !== undefined && !groups.exists('zones', patch.zone)) throw new NotFoundError(`no zone '${patch.zone}': create it first`);
    if (patch.pool !== undefined && !groups.exists('pools', patch.pool)) throw new NotFoundError(`no pool '${patch.pool}': create it first`);
    if (patch.power !== undefined && machine.locked && patch.locked !== false) {
      throw new ConflictError(`machine ${machine.id} is locked: unlock it before changing its power settings`);
    }
    if (patch.hostname !== undefined) {
      const other = machines.get(patch.hostname);
      if (other && other.id !== machine.id) throw new ConflictError(`hostname ${patch.hostname} is taken by ${other.id}`);
    }
    if (patch.locked !== undefined && patch.locked !== machine.locked) {
      this.deps.store.events.record({ mac: machine.bootMac, type: 'note', detail: patch.locked ? 'locked' : 'unlocked' });
    }
    return machines.update(machine.id, patch)!;
  }

  delete(key: string): void {
    const machine = this.get(key);
    if (machine.locked) throw new ConflictError(`machine ${machine.id} is locked: unlock it before deleting it`);
    this.timers.disarm(machine.id);
    this.deps.store.machines.delete(machine.id);
  }

  /** The scripts of the machine's current run (what its bundle holds). */
  runScripts(machine: Machine, phase: 'commissioning' | 'testing'): RunnableScript[] {
    const all = [...this.deps.builtinScripts, ...this.deps.store.scripts.list().map(fromStored)];
    return scriptsForPhase(all, phase, machine.tags).filter((script) => {
      // A script stored before names were checked (probe F8) is left out of the run, not written
      // into the bundle (bundle.ts would refuse it, and every machine's bundle would fail with it).
      const problem = scriptProblem(script);
      if (problem === undefined) return true;
      this.deps.log.warn({ script: script.name, mac: machine.bootMac }, `script ${script.name} skipped: ${problem}`);
      if (machine.bootMac) this.deps.store.events.record({ mac: machine.bootMac, type: 'scripts', detail: `skipped ${script.name}: ${problem}` });
      return false;
    });
  }

  private store(before: Machine, event: LifecycleEvent, state: Machine['state'], effects: readonly Effect[]): Machine {
    const { store } = this.deps;
    return store.db.transaction(() => {
      const next = factsAfter(facts(before), event, state);
      const patch: { -readonly [K in keyof MachinePatch]: MachinePatch[K] } = {
        state, skipTests: next.skipTests ?? false, commissioned: next.commissioned ?? false,
        beforeRescue: next.beforeRescue ?? null, statusMessage: statusMessage(event, state),
      };
      this.finishRun(before, event);
      for (const effect of effects) {
        switch (effect.kind) {
          case 'rotate-token': patch.token = randomBytes(24).toString('base64url'); break;
          case 'start-run': {
            const names = this.runScripts(before, effect.phase).map((s) => s.name);
            patch.runId = store.scripts.startRun(before.id, effect.phase, names);
            break;
          }
          case 'boot-purpose': patch.bootPurpose = effect.purpose; break;
          case 'start-timer': patch.timer = { name: effect.timer, deadline: this.now() + this.deps.timeouts[effect.timer] * 1000 }; break;
          case 'cancel-timer': patch.timer = null; break;
          case 'note': store.events.record({ mac: before.bootMac, type: 'note', detail: effect.message }); break;
          case 'power': break; // after the transaction
        }
      }
      store.events.record({ mac: before.bootMac, type: 'state', detail: `${before.state} -> ${state}${patch.statusMessage ? `: ${patch.statusMessage}` : ''}` });
      const after = store.machines.update(before.id, patch)!;
      if (patch.timer === null) this.timers.disarm(after.id);
      else if (patch.timer) this.timers.arm(after.id, patch.timer.deadline);
      return after;
    }).immediate();
  }

  /** Closes the run a callback, a timeout or an abort ends. */
  private finishRun(before: Machine, event: LifecycleEvent): void {
    if (before.runId === null) return;
    const status = event.type === 'phase-passed' ? 'passed' : event.type === 'phase-failed' ? 'failed'
      : event.type === 'timeout' ? 'timed-out' : event.type === 'abort' ? 'aborted' : undefined;
    if (status) this.deps.store.scripts.finishRun(before.runId, status);
  }

  private async power(machine: Machine, effects: readonly Effect[]): Promise<void> {
    for (const effect of effects) {
      if (effect.kind !== 'power') continue;
      try {
        await this.deps.powerDriver(machine.power)[effect.action]();
        this.deps.store.events.record({ mac: machine.bootMac, type: 'power', detail: `${effect.action} (${machine.power.type})` });
      } catch (err) {
        // The state stands: its timer fails the machine if it never boots (MAAS records the power error).
        this.deps.log.warn({ err, machine: machine.id }, `power ${effect.action} failed`);
        this.deps.store.events.record({ mac: machine.bootMac, type: 'power-failed', detail: `${effect.action}: ${(err as Error).message}` });
      }
    }
  }

  private onTimer(id: string, deadline: number): void {
    const machine = this.deps.store.machines.get(id);
    if (!machine?.timer || machine.timer.deadline !== deadline) return; // replaced or cancelled meanwhile
    this.act(id, { type: 'timeout' }).catch((err: unknown) => {
      this.deps.log.warn({ err, machine: id }, 'life-cycle timeout not applied');
    });
  }
}

export function facts(machine: Machine): MachineFacts {
  return {
    state: machine.state, locked: machine.locked, skipTests: machine.skipTests, commissioned: machine.commissioned,
    ...(machine.beforeRescue ? { beforeRescue: machine.beforeRescue } : {}),
  };
}

/** Why the machine is in its new state: a failure's reason, a timeout, the broken note. */
function statusMessage(event: LifecycleEvent, state: Machine['state']): string {
  switch (event.type) {
    case 'phase-failed': return event.reason;
    case 'mark-broken': return event.reason;
    case 'timeout': return `no callback from the machine before the ${state.replace(/^Failed /, '')} timeout`;
    default: return '';
  }
}
