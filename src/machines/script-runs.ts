// A machine's commissioning or testing run, as its callbacks see it (src/enlist/machine-routes.ts
// authenticates them and translates HTTP): the scripts its bundle holds, each script's result (with
// the inventory script's output becoming the machine's inventory, automatic tags following it), and
// the end of the phase with the run's verdict. Every method first checks the machine's run is in the
// phase named: a late callback from an earlier run changes nothing. The machine handed in is the one
// the request authenticated (src/machines/boot-auth.ts), read for that request. A BMC script's
// bmc-credentials.json holds a password: it is never stored with the result but handed to the power
// side (onBmcCredentials).
import { Value } from '@sinclair/typebox/value';
import { ConflictError } from '../errors.js';
import { BMC_CREDENTIALS_FILE, describeBmcCredentials, parseBmcCredentials, type BmcCredentials } from './bmc-credentials.js';
import type { ScriptKind, ScriptResult, Store } from '../store/index.js';
import { InventorySchema, inventoryProblem } from './inventory.js';
import type { Machine } from './model.js';
import { checkResultSize, outputTail } from './result-limits.js';
import type { RunnableScript } from './scripts.js';
import type { MachineService } from './service.js';
import type { Tagging } from './tagging.js';
import { eventKey } from './boot.js';

/** One script's result as the machine reports it (decoded from the wire). */
export interface ResultReport extends Omit<ScriptResult, 'at'> {
  readonly phase: ScriptKind;
}

export interface ScriptRunsDeps {
  readonly store: Pick<Store, 'machines' | 'scripts' | 'events' | 'transaction'>;
  readonly service: Pick<MachineService, 'runScripts' | 'act'>;
  readonly tagging: Pick<Tagging, 'refresh'>;
  /**
   * Parameters the built-in scripts of a phase get for this machine (the installer's image URL, disk
   * and seed; the erase mode): src/machines/phase-parameters.ts. Operators' scripts keep their own.
   */
  readonly phaseParameters?: (machine: Machine, phase: ScriptKind) => Readonly<Record<string, string>>;
  /**
   * A commissioning script found the machine's BMC (and, when it created one, its user and password):
   * the power side may switch the machine to that driver. Called after the result is stored; a throw
   * or a rejected promise is noted on the timeline, the result stands.
   */
  readonly onBmcCredentials?: (machine: Machine, credentials: BmcCredentials) => void | Promise<void>;
}

/** Which phase a machine's current run is in, or undefined when it is not running scripts. */
export function runningPhase(machine: Machine): ScriptKind | undefined {
  switch (machine.state) {
    case 'Commissioning': return 'commissioning';
    case 'Testing': return 'testing';
    // Only the installer runs scripts; once it passed, the disk's own system reports through cloud-init.
    case 'Deploying': return machine.deployment?.target === 'disk' && machine.deployment.installed !== true ? 'deployment' : undefined;
    case 'Disk erasing': return 'erasing';
    default: return undefined;
  }
}

/**
 * The cloud-init system a machine runs when no script phase does: its deployment (the installed
 * disk's first and later boots, or the in-memory image) or rescue mode. One rule for the seed routes
 * and for the reports that end Deploying and Entering rescue.
 */
export function runningSystem(machine: Machine): 'deployed' | 'rescue' | undefined {
  if (runningPhase(machine)) return undefined;
  switch (machine.state) {
    case 'Deploying': case 'Deployed': return 'deployed';
    case 'Entering rescue': case 'Rescue': return 'rescue';
    default: return undefined;
  }
}

export class ScriptRuns {
  constructor(private readonly deps: ScriptRunsDeps) {}

  /** The scripts the machine's bundle holds, in run order, and when the run started (the bundle's mtime). */
  bundle(machine: Machine, phase: ScriptKind): { scripts: RunnableScript[]; startedAt: number } {
    this.inPhase(machine, phase);
    const { store } = this.deps;
    const run = machine.runId === null ? undefined : store.scripts.run(machine.runId);
    // The run fixed its script list when it started; a script added since waits for the next run.
    const extra = this.deps.phaseParameters?.(machine, phase) ?? {};
    const scripts = this.deps.service.runScripts(machine, phase).filter((s) => !run || run.scripts.includes(s.name))
      .map((s) => (s.builtin && Object.keys(extra).length > 0 ? { ...s, parameters: { ...s.parameters, ...extra } } : s));
    store.events.record({ ...eventKey(machine), type: 'scripts', detail: `${phase}: ${scripts.map((s) => s.name).join(', ') || 'none'}` });
    return { scripts, startedAt: run?.startedAt ?? 0 };
  }

  /**
   * Keeps a script's result (output as its tail, within the run's cap); inventory.json becomes the
   * inventory; bmc-credentials.json is left out of what is kept and goes to onBmcCredentials.
   */
  recordResult(machine: Machine, report: ResultReport): void {
    this.inPhase(machine, report.phase);
    const { store } = this.deps;
    const run = machine.runId === null ? undefined : store.scripts.run(machine.runId);
    if (!run?.scripts.includes(report.name)) throw new ConflictError(`script '${report.name}' is not part of run ${machine.runId}`);
    const stdout = outputTail(report.stdout);
    const stderr = outputTail(report.stderr);
    const { [BMC_CREDENTIALS_FILE]: bmcCredentials, ...files } = report.files;
    // Files are stored as base64 (scripts-repo.ts): counted as such against the run's cap.
    const kept = stdout.length + stderr.length + Object.values(files).reduce((sum, f) => sum + Math.ceil(f.length / 3) * 4, 0);
    checkResultSize(files, kept, store.scripts.storedBytes(run.id, report.name));
    store.scripts.addResult(run.id, {
      name: report.name, exitCode: report.exitCode, timedOut: report.timedOut, durationMs: report.durationMs, stdout, stderr, files,
    });
    const outcome = report.timedOut ? 'timed out' : `exit ${report.exitCode}`;
    store.events.record({ ...eventKey(machine), type: 'script-result', detail: `${report.name} ${outcome} in ${report.durationMs} ms` });
    const inventory = report.files['inventory.json'];
    if (report.phase === 'commissioning' && inventory) this.ingestInventory(machine, inventory);
    if (bmcCredentials) this.takeBmcCredentials(machine, report, bmcCredentials);
  }

  /**
   * A BMC script's findings: noted on the timeline without the password and handed to the power side.
   * Only commissioning sets up BMCs (as in MAAS); a bad file, or one from another phase, is noted and
   * dropped.
   */
  private takeBmcCredentials(machine: Machine, report: ResultReport, bytes: Buffer): void {
    const note = (detail: string) => this.deps.store.events.record({ ...eventKey(machine), type: 'note', detail });
    if (report.phase !== 'commissioning') return note(`${BMC_CREDENTIALS_FILE} from ${report.name} ignored: BMCs are set up while commissioning`);
    const parsed = parseBmcCredentials(bytes);
    if ('problem' in parsed) return note(`${parsed.problem}: BMC settings from ${report.name} ignored`);
    note(describeBmcCredentials(parsed.credentials));
    const notApplied = (error: unknown) => note(`BMC settings from ${report.name} not applied: ${(error as Error).message}`);
    try {
      this.deps.onBmcCredentials?.(machine, parsed.credentials)?.catch(notApplied);
    } catch (error) {
      notApplied(error);
    }
  }

  /** The machine says its phase is over: it passes unless it reports an error or a script failed. */
  finish(machine: Machine, phase: ScriptKind, error?: string): Machine {
    this.inPhase(machine, phase);
    const failure = error ?? this.runFailure(machine);
    return this.deps.service.act(machine.id, failure ? { type: 'phase-failed', reason: failure } : { type: 'phase-passed' });
  }

  /**
   * The inventory script's output becomes the machine's inventory, held to the enlistment's rules
   * (schema, boot MAC among the NICs); automatic tags follow it. A bad one is refused on the
   * timeline and the previous inventory stays.
   */
  ingestInventory(machine: Machine, bytes: Buffer): Machine | undefined {
    const { store } = this.deps;
    const refuse = (why: string) => {
      store.events.record({ ...eventKey(machine), type: 'inventory', detail: `${why}: kept the previous inventory` });
      return undefined;
    };
    let inventory: unknown;
    try {
      inventory = JSON.parse(bytes.toString('utf8'));
    } catch {
      return refuse('inventory.json is not JSON');
    }
    if (!Value.Check(InventorySchema, inventory)) {
      const first = [...Value.Errors(InventorySchema, inventory)][0];
      return refuse(`inventory.json rejected (${first?.path} ${first?.message})`);
    }
    const problem = inventoryProblem(inventory);
    if (problem) return refuse(`inventory.json rejected (${problem})`);
    return store.transaction(() => {
      const updated = store.machines.setInventory(machine.id, inventory);
      if (!updated) return undefined;
      // NICs the machine was not known by until now (added by hand with its boot MAC) bring their events.
      store.events.adoptByMacs(machine.id, inventory.nics.map((n) => n.mac.toLowerCase()));
      const { added, removed } = this.deps.tagging.refresh(updated);
      store.events.record({
        ...eventKey(machine), type: 'inventory',
        detail: `${inventory.cpu.count} cpu, ${Math.round(inventory.memoryBytes / 2 ** 20)} MiB, ${inventory.disks.length} disk(s)`
          + `${added.length ? `; tagged ${added.join(', ')}` : ''}${removed.length ? `; untagged ${removed.join(', ')}` : ''}`,
      });
      return store.machines.get(machine.id);
    });
  }

  private inPhase(machine: Machine, phase: ScriptKind): void {
    const current = runningPhase(machine);
    if (current !== phase) throw new ConflictError(`machine ${machine.id} is ${machine.state}, not running ${phase} scripts`);
  }

  /** Why the run failed, from its results: the first script that failed, timed out or never reported. */
  private runFailure(machine: Machine): string | undefined {
    const run = machine.runId === null ? undefined : this.deps.store.scripts.run(machine.runId);
    if (!run) return 'no script run is recorded for this machine';
    for (const name of run.scripts) {
      const result = run.results.find((r) => r.name === name);
      if (!result) return `script ${name} reported no result`;
      if (result.timedOut) return `script ${name} timed out after ${result.durationMs} ms`;
      if (result.exitCode !== 0) {
        const lastLine = result.stderr.toString('utf8').trim().split('\n').at(-1) ?? '';
        return `script ${name} exited ${result.exitCode}${lastLine ? `: ${lastLine.slice(0, 200)}` : ''}`;
      }
    }
    return undefined;
  }
}
