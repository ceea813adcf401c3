// The machine service: operator actions, machine callbacks and timers go through the pure life-cycle
// table (lifecycle.ts); this file stores the outcome and carries out the effects, in the table's
// order: token, script run, boot purpose, notes and timer are written in one transaction; then the
// power effects are queued, one power action in flight per machine (power-queue.ts), and the caller
// gets the stored machine without waiting for the BMC (ARCHITECTURE.md "Life-cycle"). Timers are
// stored as deadlines, so a restart re-arms them and a machine that died mid-boot still times out
// into its Failed state.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ConflictError, NotFoundError } from '../errors.js';
import type { MachinePatch, Store } from '../store/index.js';
import type { PowerDriver, PowerState } from '../power/driver.js';
import { hasOpenSecrets, type SecretCipher } from '../power/sealing.js';
import {
  factsAfter, transition, type Effect, type LifecycleEvent, type MachineFacts, type RunPhase, type TimerName,
} from './lifecycle.js';
import type { Deployment, EraseMode, Machine, PowerSettingsValue } from './model.js';
import { eventKey, normaliseMac } from './boot.js';
import { chooseMachine, type AllocationConstraints } from './allocation.js';
import { scriptProblem, ScriptCatalogue, type RunnableScript } from './scripts.js';
import { MachineTimers } from './timers.js';
import type { PowerQueue } from './power-queue.js';
import { PowerControl, type OperatorPowerAction } from './power-control.js';
import { enlistingTimer, MachineAdding, warnAboutPower, type AddFields } from './machine-adding.js';

export interface MachineServiceDeps {
  readonly store: Store;
  /** Builds a driver from a machine's settings, its secrets opened. */
  readonly powerDriver: (settings: PowerSettingsValue) => PowerDriver;
  /** Seals power secrets at rest (src/secret-box.ts); absent: stored as given (tests of the life-cycle). */
  readonly secrets?: SecretCipher;
  /** Reads every machine's power state this often (config power.*); absent or 0: no poll. */
  readonly powerPoll?: { readonly intervalMs: number; readonly concurrency: number };
  /** Seconds each life-cycle timer runs before the machine is failed for not calling back. */
  readonly timeouts: Readonly<Record<TimerName, number>>;
  /** Seconds a machine added by its BMC alone has to enlist after the power-on (config lifecycle.enlistingTimeout; 1800). */
  readonly enlistingTimeout?: number;
  /** The built-in scripts (src/enlist/scripts.ts loads them); with the stored ones they form `scripts`. */
  readonly builtinScripts: readonly RunnableScript[];
  readonly log: Logger;
  readonly now?: () => number;
  /** Waits between power-state queries; rejects when the signal aborts (close). Tests inject their own. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * How a confirm-power effect polls the driver: every intervalMs, at most `attempts` queries. Bounded
   * so a BMC that never reads off stops being asked; the phase's timer then fails the machine.
   */
  readonly powerConfirm?: { readonly intervalMs: number; readonly attempts: number };
  /** How long close() waits for queued power work (a BMC call mid-flight) before giving up on it. */
  readonly closeDeadlineMs?: number;
}

const defaultPowerConfirm = { intervalMs: 5000, attempts: 120 };
/** Shutdown must stay bounded (systemd's stop timeout): a BMC call still out after this is left behind. */
const defaultCloseDeadlineMs = 2000;
const defaultSleep = (ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal, ref: false });

/** The phase a confirm-power effect belongs to: it passes only the phase it was started for. */
interface PhaseMark { readonly state: Machine['state']; readonly deadline: number | null }

export class MachineService {
  /** Built-in and uploaded scripts: runs are chosen from it, the API lists it (src/machines/catalogue.ts). */
  readonly scripts: ScriptCatalogue;
  private readonly now: () => number;
  private readonly timers: MachineTimers;
  private readonly queue: PowerQueue;
  private readonly power: PowerControl;
  private readonly adding: MachineAdding;
  private pollTimer: NodeJS.Timeout | undefined;
  /** Aborted by close(): stops power-state polling. */
  private readonly closing = new AbortController();

  constructor(private readonly deps: MachineServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.scripts = new ScriptCatalogue(deps.store, deps.builtinScripts);
    this.timers = new MachineTimers(this.now, (id, deadline) => this.onTimer(id, deadline), deps.log);
    this.power = new PowerControl({ store: deps.store, log: deps.log, powerDriver: deps.powerDriver, now: this.now, ...(deps.secrets ? { secrets: deps.secrets } : {}) });
    this.queue = this.power.queue;
    this.adding = new MachineAdding({
      store: deps.store, log: deps.log, power: this.power, now: this.now, enlistingTimeout: deps.enlistingTimeout ?? 1800,
      act: (id, event) => this.act(id, event),
      queuePower: (machine, action) => this.carryOut(machine, [{ kind: 'power', action }]),
      queueWork: (id, work) => this.queue.enqueue(id, work),
      armTimer: (id, deadline) => this.timers.arm(id, deadline),
    });
  }

  /**
   * Re-arms the stored timers (after a restart, overdue ones fire at once), seals power secrets a
   * version without sealing stored in the clear, and starts the power poll.
   */
  start(): void {
    for (const machine of this.deps.store.machines.list()) {
      if (machine.timer) this.timers.arm(machine.id, machine.timer.deadline);
      if (this.deps.secrets && hasOpenSecrets(machine.power, this.deps.secrets)) {
        this.deps.store.machines.update(machine.id, { power: this.power.seal(machine.power) });
      }
    }
    const poll = this.deps.powerPoll;
    if (poll && poll.intervalMs > 0) {
      // A poll never rejects for a driver's failure (that is power state error); anything else (the
      // store) is logged here rather than left to end the process as an unhandled rejection.
      this.pollTimer = setInterval(() => this.pollPower().catch((err: unknown) => this.deps.log.warn({ err }, 'power poll failed')), poll.intervalMs);
      this.pollTimer.unref();
    }
  }

  /**
   * Asks a driver made from settings not yet stored (in the clear) for the power state: whether the
   * appliance can reach that power controller with them. Throws the driver's error when it cannot.
   */
  async probePower(settings: PowerSettingsValue): Promise<void> {
    await this.deps.powerDriver(settings).query();
  }

  /** Reads every machine's power state now (the poll's tick; tests call it directly). */
  pollPower(): Promise<void> {
    return this.power.poll(this.deps.powerPoll?.concurrency ?? 8, this.closing.signal);
  }

  /** Stops timers and polling, then waits (up to closeDeadlineMs) for power actions already sent. */
  async close(): Promise<void> {
    this.timers.clear();
    clearInterval(this.pollTimer);
    this.closing.abort();
    if (!await this.queue.drain(this.deps.closeDeadlineMs ?? defaultCloseDeadlineMs)) {
      this.deps.log.warn('closing with power actions still in flight: their outcome is not recorded');
    }
  }

  /**
   * Runs `work` in the machine's power queue: after the power work queued before it, and before any
   * queued after it. Settles as `work` does. BMC adoption runs here, so that the next phase's power
   * action (queued when the machine reports its phase over, after the result) uses the new user.
   */
  inPowerQueue(id: string, work: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => this.queue.enqueue(id, () => work().then(resolve, reject)));
  }

  /**
   * An operator's power action outside the life-cycle (MAAS's power on/off; soft: the ACPI power
   * button). Queued behind the machine's power work, the stored machine returned at once; the outcome
   * goes on the timeline (power-failed and powerState 'error' on failure) and the poll reads the new
   * state. The life-cycle is not told: a machine powered off mid-phase fails when its timer runs out.
   */
  powerAction(key: string, action: OperatorPowerAction): Machine {
    const machine = this.get(key);
    if (machine.locked) throw new ConflictError(`machine ${machine.id} is locked: unlock it before changing its power`);
    if (action === 'soft' && !this.power.hasSoft(machine)) {
      throw new ConflictError(`power type '${machine.power.type}' has no soft power-off (ACPI power button): use off`);
    }
    this.queue.enqueue(machine.id, async () => {
      const now = this.deps.store.machines.get(machine.id); // its settings as they are when the action runs
      if (now) await this.power.act(now, action);
    });
    return machine;
  }

  /** Settles when the machine's queued power work is done (tests; a future `?wait=power`). */
  powerSettled(id: string): Promise<void> {
    return this.queue.idle(id);
  }

  get(key: string): Machine {
    const mac = normaliseMac(key);
    const machine = this.deps.store.machines.get(key) ?? (mac ? this.deps.store.machines.byMac(mac) : undefined);
    if (!machine) throw new NotFoundError(`no machine '${key}': see \`netboot machines list\``);
    return machine;
  }

  /**
   * Allocates one Ready machine that meets the constraints (allocation.ts), or says which constraint
   * nothing met (409). Choosing and the transition run in one turn of the loop: two requests cannot
   * get the same machine.
   */
  allocate(constraints: AllocationConstraints): Machine {
    const named = constraints.name === undefined ? undefined : this.get(constraints.name);
    const choice = chooseMachine(named ? [] : this.deps.store.machines.list(), constraints, named);
    if (!choice.ok) throw new ConflictError(`no machine to allocate: ${choice.reason}`);
    return this.act(choice.machine.id, { type: 'allocate' });
  }

  /**
   * An operator action, a callback or a timer: through the table and stored; its power effects are
   * queued behind the machine's earlier ones. Returns the stored machine at once.
   */
  act(key: string, event: LifecycleEvent, extra: TransitionExtras = {}): Machine {
    const before = this.get(key);
    const result = transition(facts(before), event);
    if (!result.ok) throw new ConflictError(result.reason);
    const after = this.store(before, event, result.state, result.effects, extra);
    this.carryOut(after, result.effects);
    return after;
  }

  /**
   * Whether the table would accept the event now (ConflictError with its reason if not): checked
   * before slow work (cloud-init's schema check) so that a refused action changes nothing.
   */
  assertAccepts(key: string, event: LifecycleEvent): Machine {
    const machine = this.get(key);
    const result = transition(facts(machine), event);
    if (!result.ok) throw new ConflictError(result.reason);
    return machine;
  }

  /**
   * A machine added by hand: MAC and power settings; commissioning starts at once (as in MAAS).
   * Without a MAC, by its BMC alone (src/machines/machine-adding.ts).
   */
  add(fields: AddFields): Machine {
    return this.adding.add(fields);
  }

  /** The first boot of a machine added by its BMC has enlisted it: commissioning starts. */
  enlistedByBmc(machine: Machine): Machine {
    return this.adding.enlistedByBmc(machine);
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
      this.deps.store.events.record({ ...eventKey(machine), type: 'note', detail: patch.locked ? 'locked' : 'unlocked' });
    }
    let updated = machines.update(machine.id, patch.power === undefined ? patch : { ...patch, power: this.power.seal(patch.power) })!;
    if (patch.power !== undefined) {
      this.deps.store.events.record({ ...eventKey(machine), type: 'note', detail: `power settings changed (${patch.power.type})` });
      this.power.settingsChanged(updated);
      updated = machines.get(machine.id)!;
      warnAboutPower(this.deps, updated, patch.power);
    }
    return updated;
  }


  /**
   * The operator's user-data (parsed by the caller: src/cloud-init); '' clears it. `summary` says
   * what it is on the timeline (never the content: it may hold secrets). `check` (cloud-init's schema
   * check, a subprocess) runs only for an unlocked machine; the lock is read again after it, so a
   * lock taken meanwhile still wins.
   */
  async setUserData(key: string, value: string, summary: string, check?: () => Promise<void>): Promise<Machine> {
    const unlocked = (): Machine => {
      const machine = this.get(key);
      if (machine.locked) throw new ConflictError(`machine ${machine.id} is locked: unlock it before changing its user-data`);
      return machine;
    };
    if (check) {
      unlocked();
      await check();
    }
    const machine = unlocked();
    const updated = this.deps.store.machines.update(machine.id, { userData: value })!;
    this.deps.store.events.record({ ...eventKey(machine), type: 'note', detail: value === '' ? 'user-data cleared' : `user-data set (${summary})` });
    return updated;
  }

  delete(key: string): void {
    const machine = this.get(key);
    if (machine.locked) throw new ConflictError(`machine ${machine.id} is locked: unlock it before deleting it`);
    this.timers.disarm(machine.id);
    this.deps.store.machines.delete(machine.id);
  }

  /** The scripts of the machine's current run (what its bundle holds). */
  runScripts(machine: Machine, phase: RunPhase): RunnableScript[] {
    return this.scripts.forPhase(phase, machine.tags).filter((script) => {
      // A script stored before names were checked (probe F8) is left out of the run, not written
      // into the bundle (bundle.ts would refuse it, and every machine's bundle would fail with it).
      const problem = scriptProblem(script);
      if (problem === undefined) return true;
      this.deps.log.warn({ script: script.name, mac: machine.bootMac }, `script ${script.name} skipped: ${problem}`);
      this.deps.store.events.record({ ...eventKey(machine), type: 'scripts', detail: `skipped ${script.name}: ${problem}` });
      return false;
    });
  }

  private store(before: Machine, event: LifecycleEvent, state: Machine['state'], effects: readonly Effect[], extra: TransitionExtras): Machine {
    const { store } = this.deps;
    return store.transaction(() => {
      const next = factsAfter(facts(before), event, state);
      const plan = extra.deployment ?? before.deployment;
      const patch: { -readonly [K in keyof MachinePatch]: MachinePatch[K] } = {
        state, skipTests: next.skipTests ?? false, commissioned: next.commissioned ?? false,
        beforeRescue: next.beforeRescue ?? null, statusMessage: statusMessage(event, effects),
        // The deploy options live as long as the table's deployTarget (factsAfter); installed follows it.
        deployment: next.deployTarget === undefined || !plan ? null : { ...plan, installed: next.installed === true },
        eraseMode: state === 'Disk erasing' ? extra.eraseMode ?? before.eraseMode : null,
        ...(extra.hostname ? { hostname: extra.hostname } : {}),
        ...(extra.userData !== undefined ? { userData: extra.userData } : {}),
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
          case 'note': store.events.record({ ...eventKey(before), type: 'note', detail: effect.message }); break;
          case 'power': case 'confirm-power': break; // queued after the transaction (carryOut)
        }
      }
      store.events.record({ ...eventKey(before), type: 'state', detail: `${before.state} -> ${state}${patch.statusMessage ? `: ${patch.statusMessage}` : ''}` });
      const after = store.machines.update(before.id, patch)!;
      if (patch.timer === null) this.timers.disarm(after.id);
      else if (patch.timer) this.timers.arm(after.id, patch.timer.deadline);
      return after;
    });
  }

  /** Closes the run a callback, a timeout or an abort ends. */
  private finishRun(before: Machine, event: LifecycleEvent): void {
    if (before.runId === null) return;
    const status = event.type === 'phase-passed' ? 'passed' : event.type === 'phase-failed' ? 'failed'
      : event.type === 'timeout' ? 'timed-out' : event.type === 'abort' ? 'aborted' : undefined;
    if (status) this.deps.store.scripts.finishRun(before.runId, status);
  }

  /** Queues the power actions, then the power-state confirmation, behind the machine's earlier ones. */
  private carryOut(machine: Machine, effects: readonly Effect[]): void {
    const actions = effects.flatMap((e) => (e.kind === 'power' ? [e.action] : []));
    const confirm = effects.find((e) => e.kind === 'confirm-power');
    if (actions.length === 0 && !confirm) return;
    const mark: PhaseMark = { state: machine.state, deadline: machine.timer?.deadline ?? null };
    this.queue.enqueue(machine.id, async () => {
      for (const action of actions) await this.power.act(machine, action);
      if (confirm) await this.confirmPower(machine, confirm.state, mark);
    });
  }

  /**
   * Asks the driver until it reads `want`, then passes the phase. A driver that cannot tell (manual:
   * 'unknown') passes at once, with a note asking the operator to make sure. Stops when the machine
   * has left the phase (abort, timeout), on close, or after the bounded number of queries; the
   * phase's timer then fails the machine as before.
   */
  private async confirmPower(machine: Machine, want: PowerState, mark: PhaseMark): Promise<void> {
    const { intervalMs, attempts } = this.deps.powerConfirm ?? defaultPowerConfirm;
    const sleep = this.deps.sleep ?? defaultSleep;
    const record = (type: 'power' | 'note', detail: string) => this.deps.store.events.record({ ...eventKey(machine), type, detail });
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closing.signal.aborted || !this.stillIn(machine.id, mark)) return;
      const state = await this.power.read(machine);
      if (state === undefined) lastError = this.deps.store.machines.get(machine.id)?.powerError ?? '';
      if (this.closing.signal.aborted || !this.stillIn(machine.id, mark)) return;
      if (state === want) {
        record('power', `${want} confirmed (${machine.power.type})`);
        this.pass(machine.id);
        return;
      }
      if (state === 'unknown') {
        record('note', `power type '${machine.power.type}' cannot report whether ${machine.hostname} is ${want}: `
          + `make sure it is ${want}; ${machine.state} is taken as passed`);
        this.pass(machine.id);
        return;
      }
      if (attempt < attempts) {
        try {
          await sleep(intervalMs, this.closing.signal);
        } catch {
          return; // closing
        }
      }
    }
    record('note', `power ${want} not confirmed after ${attempts} queries${lastError ? ` (last error: ${lastError})` : ''}; `
      + `the ${machine.timer?.name ?? 'phase'} timer fails the machine unless it is resolved by hand`);
  }

  /** Still in the phase the confirmation was started for (same state, same timer). */
  private stillIn(id: string, mark: PhaseMark): boolean {
    const now = this.deps.store.machines.get(id);
    return now !== undefined && now.state === mark.state && (now.timer?.deadline ?? null) === mark.deadline;
  }

  private pass(id: string): void {
    try {
      this.act(id, { type: 'phase-passed' });
    } catch (err) {
      this.deps.log.warn({ err, machine: id }, 'confirmed power state not applied');
    }
  }

  private onTimer(id: string, deadline: number): void {
    const machine = this.deps.store.machines.get(id);
    if (!machine?.timer || machine.timer.deadline !== deadline) return; // replaced or cancelled meanwhile
    if (machine.timer.name === enlistingTimer) return this.adding.enlistingTimedOut(machine);
    try {
      this.act(id, { type: 'timeout' });
    } catch (err) {
      this.deps.log.warn({ err, machine: id }, 'life-cycle timeout not applied');
    }
  }
}

export function facts(machine: Machine): MachineFacts {
  return {
    state: machine.state, locked: machine.locked, skipTests: machine.skipTests, commissioned: machine.commissioned,
    ...(machine.beforeRescue ? { beforeRescue: machine.beforeRescue } : {}),
    ...(machine.deployment ? { deployTarget: machine.deployment.target, installed: machine.deployment.installed === true } : {}),
  };
}

/** What an operator action stores with its transition, in the same transaction (deploy, release --erase). */
export interface TransitionExtras {
  readonly deployment?: Deployment;
  readonly eraseMode?: EraseMode;
  readonly hostname?: string;
  readonly userData?: string;
}

/** Why the machine is in its new state: a failure's reason, the broken note, or the table's note on what a timeout missed. */
function statusMessage(event: LifecycleEvent, effects: readonly Effect[]): string {
  switch (event.type) {
    case 'phase-failed': return event.reason;
    case 'mark-broken': return event.reason;
    // e.g. "releasing failed: power-off not confirmed within the releasing timeout"
    case 'timeout': return effects.find((e) => e.kind === 'note')?.message ?? 'timed out';
    default: return '';
  }
}
