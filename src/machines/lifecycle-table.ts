// The life-cycle table itself (see lifecycle.ts, the public surface): the map state -> event -> handler
// and the functions that read it. After the MAAS life-cycle (maasserver node_status.py
// NODE_TRANSITIONS, node_action.py actionable statuses); docs/lifecycle.md lists where this table
// chooses among MAAS behaviours.
import type { BootPurpose } from './boot.js';
import type { DeployTarget } from './model.js';
import {
  lifecycleEventTypes, operatorEventTypes,
  type EventOf, type Effect, type LifecycleEvent, type LifecycleEventType, type MachineFacts, type MachineState,
  type OperatorEventType, type TimerName, type Transition,
} from './lifecycle-types.js';

type Handler<T extends LifecycleEventType> = (m: MachineFacts, e: EventOf<T>) => Transition;
type Row = { readonly [T in LifecycleEventType]?: Handler<T> };

/** States that run a phase under a timer; abort, phase-failed and timeout apply to each. */
export type BusyState = 'Commissioning' | 'Testing' | 'Deploying' | 'Releasing' | 'Disk erasing' | 'Entering rescue' | 'Exiting rescue';
interface Phase {
  readonly name: string;
  readonly timer: TimerName;
  /** Where phase-failed and timeout go. */
  readonly failed: MachineState;
  /** Where abort goes: the failed state, except where MAAS returns somewhere usable. */
  readonly aborted: MachineState;
  /** What a timeout means, for the timeline. */
  readonly awaited: string;
  /** Phases that only wait for the machine to be off: nothing boots to call back (confirm-power). */
  readonly confirms?: 'off';
}
const phases: { readonly [S in BusyState]: Phase } = {
  // MAAS abort_commissioning: back to New, to be commissioned again.
  'Commissioning': { name: 'commissioning', timer: 'commissioning', failed: 'Failed commissioning', aborted: 'New', awaited: 'no callback' },
  // Tests that did not finish have not passed; from Failed testing the operator tests or commissions again.
  'Testing': { name: 'testing', timer: 'testing', failed: 'Failed testing', aborted: 'Failed testing', awaited: 'no callback' },
  // MAAS abort_deploying: back to Allocated, still owned, ready to deploy again.
  'Deploying': { name: 'deployment', timer: 'deploying', failed: 'Failed deployment', aborted: 'Allocated', awaited: 'no callback' },
  'Releasing': { name: 'releasing', timer: 'releasing', failed: 'Failed releasing', aborted: 'Failed releasing', awaited: 'power-off not confirmed', confirms: 'off' },
  // MAAS abort_disk_erasing: Failed disk erasing (the disks are in an unknown state).
  'Disk erasing': { name: 'disk erasing', timer: 'erasing', failed: 'Failed disk erasing', aborted: 'Failed disk erasing', awaited: 'no callback' },
  'Entering rescue': { name: 'entering rescue mode', timer: 'rescue', failed: 'Failed entering rescue', aborted: 'Failed entering rescue', awaited: 'no callback' },
  'Exiting rescue': { name: 'exiting rescue mode', timer: 'rescue', failed: 'Failed exiting rescue', aborted: 'Failed exiting rescue', awaited: 'power-off not confirmed', confirms: 'off' },
};
export function isBusyState(state: MachineState): state is BusyState {
  return Object.hasOwn(phases, state);
}

/** States `rescue` is accepted from that Exiting rescue can return to (MAAS RescueMode actionable statuses). */
export const rescueOrigins = [
  'New', 'Ready', 'Allocated', 'Deployed', 'Broken', 'Failed commissioning', 'Failed testing', 'Failed deployment', 'Failed disk erasing',
] as const satisfies readonly MachineState[];
const rescueStates: readonly MachineState[] = ['Entering rescue', 'Rescue', 'Exiting rescue', 'Failed entering rescue', 'Failed exiting rescue'];

/** Where Exiting rescue ends; Broken (needs an operator) when the facts do not say where rescue began. */
function exitTarget(m: { readonly beforeRescue?: MachineState | null }): MachineState {
  const before = m.beforeRescue;
  return before != null && (rescueOrigins as readonly MachineState[]).includes(before) ? before : 'Broken';
}

function assertNever(value: never): never {
  throw new Error(`unhandled life-cycle case: ${JSON.stringify(value)}`);
}

/**
 * What the Booter serves a machine in this state at its next netboot. Like MAAS get_boot_purpose: the
 * ephemeral environment for a phase, the disk for a deployed machine, iPXE poweroff for everything else
 * (a resting machine that netboots by accident switches itself off rather than running anything).
 * New is the exception: it enlists again (refreshing its inventory), as the Booter has always done.
 * beforeRescue may be null (the store's spelling of "none").
 */
export function bootPurposeOf(m: {
  readonly state: MachineState; readonly beforeRescue?: MachineState | null;
  readonly deployTarget?: DeployTarget; readonly installed?: boolean;
}): BootPurpose {
  // A memory deployment lives in RAM: every boot of it is a netboot of the ephemeral image with its seed.
  const deployed: BootPurpose = m.deployTarget === 'memory' ? 'deploy-memory' : 'local';
  switch (m.state) {
    case 'New': return 'enlist';
    case 'Commissioning': return 'commission';
    case 'Testing': return 'test';
    // Disk: the installer, then (installed) the disk it wrote, whose first boot ends the phase.
    case 'Deploying': return m.deployTarget === 'memory' ? 'deploy-memory' : m.installed ? 'local' : 'deploy-disk';
    case 'Deployed': return deployed;
    case 'Disk erasing': return 'erase';
    case 'Entering rescue': case 'Rescue': return 'rescue';
    case 'Exiting rescue': return exitTarget(m) === 'Deployed' ? deployed : 'off';
    case 'Ready': case 'Allocated': case 'Releasing': case 'Broken':
    case 'Failed commissioning': case 'Failed testing': case 'Failed deployment': case 'Failed releasing':
    case 'Failed disk erasing': case 'Failed entering rescue': case 'Failed exiting rescue':
      return 'off';
    default: return assertNever(m.state);
  }
}

const ok = (state: MachineState, effects: Effect[]): Transition => ({ ok: true, state, effects });
const note = (message: string): Effect => ({ kind: 'note', message });

interface Step {
  readonly run?: Effect;
  readonly power?: 'on' | 'off' | 'cycle';
  readonly note: string;
  /** The phase runs under the machine's current token (see rescueKeepsToken). */
  readonly keepToken?: boolean;
}

/** Enter a busy state: fresh token, maybe a new run, its boot purpose, power, what confirms it, its timer. */
function start(to: BusyState, m: MachineFacts, step: Step): Transition {
  const confirms = phases[to].confirms;
  return ok(to, [
    ...(step.keepToken ? [] : [{ kind: 'rotate-token' } as const]),
    ...(step.run ? [step.run] : []),
    { kind: 'boot-purpose', purpose: bootPurposeOf({ ...m, state: to }) },
    ...(step.power ? [{ kind: 'power', action: step.power } as const] : []),
    ...(confirms ? [{ kind: 'confirm-power', state: confirms } as const] : []),
    { kind: 'start-timer', timer: phases[to].timer },
    note(step.note),
  ]);
}

/** Enter a state that runs no timer: stop the running one, if any, then boot purpose and power. */
function settle(m: MachineFacts, to: MachineState, step: Step): Transition {
  return ok(to, [
    ...(isBusyState(m.state) ? [{ kind: 'cancel-timer' } as const] : []),
    { kind: 'boot-purpose', purpose: bootPurposeOf({ ...m, state: to }) },
    ...(step.power ? [{ kind: 'power', action: step.power } as const] : []),
    note(step.note),
  ]);
}

const commission: Handler<'commission'> = (m, e) => start('Commissioning', m, {
  run: { kind: 'start-run', phase: 'commissioning', skipTestsAfter: e.skipTests === true },
  power: 'cycle',
  note: e.skipTests === true ? 'commissioning started; tests will be skipped' : 'commissioning started',
});
const test: Handler<'test'> = (m) => m.state !== 'Ready' && m.commissioned !== true
  ? { ok: false, reason: `cannot test a machine in state ${m.state}: commission it first (tests need a passed commissioning run)` }
  : start('Testing', m, { run: { kind: 'start-run', phase: 'testing' }, power: 'cycle', note: 'testing started' });
const markBroken: Handler<'mark-broken'> = (m, e) =>
  settle(m, 'Broken', { power: 'off', note: e.reason.trim() ? `marked broken: ${e.reason.trim()}` : 'marked broken' });
const markFixed: Handler<'mark-fixed'> = (m) => m.commissioned === true
  ? settle(m, 'Ready', { power: 'off', note: 'marked fixed' })
  : settle(m, 'New', { power: 'off', note: 'marked fixed; never commissioned, so back to New' });
const allocate: Handler<'allocate'> = (m) => settle(m, 'Allocated', { note: 'allocated' });
/**
 * To disk: the installer runs as a script run in the ephemeral environment (its steps are results),
 * then the machine boots its disk and the deployed system's cloud-init ends the phase. To memory: the
 * ephemeral image boots with the operator's user-data and its cloud-init ends the phase.
 */
const deploy: Handler<'deploy'> = (m, e) => {
  const target = e.target ?? 'disk';
  const started = m.state === 'Ready' ? 'allocated; deployment started' : 'deployment started';
  return start('Deploying', { ...m, deployTarget: target, installed: false }, {
    ...(target === 'disk' ? { run: { kind: 'start-run', phase: 'deployment' } as const } : {}),
    power: 'cycle',
    note: `${started} (${target === 'disk' ? 'to disk' : 'in memory'})`,
  });
};
/**
 * The installer's run passed: boot the disk it wrote, under a fresh deploying timer. The token stays:
 * the installed system's seed carries it for its reports (src/cloud-init), which end the phase.
 */
const bootInstalledDisk: Handler<'phase-passed'> = () => ok('Deploying', [
  { kind: 'boot-purpose', purpose: 'local' },
  { kind: 'power', action: 'cycle' },
  { kind: 'start-timer', timer: 'deploying' },
  note('image installed; booting the deployed system from its disk'),
]);
const release: Handler<'release'> = (m, e) => e.erase === true
  ? start('Disk erasing', m, { run: { kind: 'start-run', phase: 'erasing' }, power: 'cycle', note: 'release started; erasing disks' })
  : start('Releasing', m, { power: 'off', note: 'release started; powering off' });
/**
 * Rescuing a deployed system keeps its token, going in and coming out: the deployed system's
 * cloud-init carries it (reporting, phone-home) and posts with it again after the rescue, which a
 * rotated token answered with 401 and token-refused noise. The rescue environment runs on the same
 * machine for the same operator, so it may hold the same secret.
 */
const rescueKeepsToken = (m: MachineFacts): boolean =>
  (rescueStates.includes(m.state) ? m.beforeRescue : m.state) === 'Deployed';
const rescue: Handler<'rescue'> = (m) => start('Entering rescue', m, { power: 'cycle', note: 'entering rescue mode', keepToken: rescueKeepsToken(m) });
const exitRescue: Handler<'exit-rescue'> = (m) =>
  start('Exiting rescue', m, { power: 'off', note: `exiting rescue mode; returning to ${exitTarget(m)}`, keepToken: rescueKeepsToken(m) });

/** abort, phase-failed and timeout for a busy state: stop, power off, land in its aborted/failed state. */
function busy(s: BusyState): Row {
  const p = phases[s];
  return {
    'abort': (m) => settle(m, p.aborted, { power: 'off', note: `${p.name} aborted` }),
    'phase-failed': (m, e) => settle(m, p.failed, { power: 'off', note: `${p.name} failed: ${e.reason}` }),
    'timeout': (m) => settle(m, p.failed, { power: 'off', note: `${p.name} failed: ${p.awaited} within the ${p.timer} timeout` }),
  };
}

const commissioningPassed: Handler<'phase-passed'> = (m) => m.skipTests === true
  ? settle(m, 'Ready', { power: 'off', note: 'commissioning passed; tests skipped' })
  : start('Testing', m, { run: { kind: 'start-run', phase: 'testing' }, power: 'cycle', note: 'commissioning passed; testing started' });

/** state -> event -> handler; an event missing from a row is refused (see refusal()). */
const table: { readonly [S in MachineState]: Row } = {
  'New': { commission, 'mark-broken': markBroken, rescue },
  'Commissioning': { ...busy('Commissioning'), 'mark-broken': markBroken, 'phase-passed': commissioningPassed },
  'Testing': {
    ...busy('Testing'), 'mark-broken': markBroken,
    'phase-passed': (m) => settle(m, 'Ready', { power: 'off', note: 'testing passed' }),
  },
  'Ready': { commission, test, 'mark-broken': markBroken, allocate, deploy, rescue },
  'Allocated': { 'mark-broken': markBroken, deploy, release, rescue },
  'Deploying': {
    ...busy('Deploying'), 'mark-broken': markBroken,
    'phase-passed': (m, e) => m.deployTarget !== 'memory' && m.installed !== true
      ? bootInstalledDisk(m, e)
      : settle(m, 'Deployed', { note: 'deployed: the system\'s cloud-init finished' }),
  },
  'Deployed': { 'mark-broken': markBroken, release, rescue },
  'Releasing': {
    ...busy('Releasing'), 'mark-broken': markBroken,
    'phase-passed': (m) => settle(m, 'Ready', { note: 'released' }),
  },
  'Disk erasing': {
    ...busy('Disk erasing'), 'mark-broken': markBroken,
    'phase-passed': (m) => start('Releasing', m, { power: 'off', note: 'disks erased; powering off' }),
  },
  'Entering rescue': {
    ...busy('Entering rescue'), 'exit-rescue': exitRescue,
    'phase-passed': (m) => settle(m, 'Rescue', { note: 'rescue mode ready' }),
  },
  'Rescue': { 'exit-rescue': exitRescue },
  'Exiting rescue': {
    ...busy('Exiting rescue'),
    // A deployed machine boots its disk again; every other state rests powered off.
    'phase-passed': (m) => {
      const to = exitTarget(m);
      return settle(m, to, { ...(to === 'Deployed' ? { power: 'on' as const } : {}), note: `exited rescue mode; back to ${to}` });
    },
  },
  'Broken': { commission, test, 'mark-fixed': markFixed, rescue },
  'Failed commissioning': { commission, 'mark-broken': markBroken, rescue },
  'Failed testing': { commission, test, 'mark-broken': markBroken, rescue },
  'Failed deployment': { test, 'mark-broken': markBroken, release, rescue },
  'Failed releasing': { test, 'mark-broken': markBroken, release },
  'Failed disk erasing': { test, 'mark-broken': markBroken, release, rescue },
  'Failed entering rescue': { test, 'mark-broken': markBroken, rescue, 'exit-rescue': exitRescue },
  'Failed exiting rescue': { test, 'mark-broken': markBroken, rescue, 'exit-rescue': exitRescue },
};

const verbs: { readonly [T in OperatorEventType]: string } = {
  'commission': 'commission', 'test': 'test', 'abort': 'abort', 'mark-broken': 'mark broken', 'mark-fixed': 'mark fixed',
  'allocate': 'allocate', 'deploy': 'deploy', 'release': 'release', 'rescue': 'start rescue mode on',
  'exit-rescue': 'exit rescue mode on',
};

const notCommissioned: readonly MachineState[] = ['New', 'Failed commissioning', 'Failed testing'];
const needsRelease: readonly MachineState[] = ['Failed deployment', 'Failed releasing', 'Failed disk erasing'];

/** What to do instead, when there is something useful to say. */
function hint(s: MachineState, t: OperatorEventType): string | undefined {
  if (isBusyState(s)) return `${phases[s].name} is in progress: wait for it to finish, or abort it`;
  if (t === 'rescue' && s === 'Rescue') return 'it is already in rescue mode';
  if (rescueStates.includes(s)) return 'exit rescue mode first';
  switch (t) {
    case 'commission':
    case 'rescue':
      return s === 'Allocated' || s === 'Deployed' || needsRelease.includes(s) ? 'release it first' : undefined;
    case 'test':
      if (s === 'Allocated' || s === 'Deployed') return 'release it first (testing reboots it into the ephemeral environment)';
      return notCommissioned.includes(s) ? 'commission it first' : undefined;
    case 'abort': return 'nothing is in progress';
    case 'mark-broken': return s === 'Broken' ? 'it is already broken' : undefined;
    case 'mark-fixed': return 'only a Broken machine can be marked fixed';
    case 'allocate':
    case 'deploy':
      if (s === 'Allocated' || s === 'Deployed') return `it is already ${s.toLowerCase()}`;
      if (s === 'Broken') return 'mark it fixed first';
      if (needsRelease.includes(s)) return 'release it first';
      return notCommissioned.includes(s) ? 'commission it first' : undefined;
    case 'release': return 'it is not allocated';
    case 'exit-rescue': return 'it is not in rescue mode';
    default: return assertNever(t);
  }
}

function refusal(m: MachineFacts, e: LifecycleEvent): string {
  const s = m.state;
  switch (e.type) {
    case 'phase-passed':
    case 'phase-failed':
      return `unexpected ${e.type} for a machine in state ${s}: no phase is running`;
    case 'timeout':
      return `unexpected timeout for a machine in state ${s}: no timer runs in this state`;
    default: {
      const instead = hint(s, e.type);
      return `cannot ${verbs[e.type]} a machine in state ${s}${instead ? `: ${instead}` : ''}`;
    }
  }
}

function isOperatorEvent(e: LifecycleEvent): e is EventOf<OperatorEventType> {
  return (operatorEventTypes as readonly string[]).includes(e.type);
}

export function transition(machine: MachineFacts, event: LifecycleEvent): Transition {
  // The store casts its text column to MachineState; an unknown value is refused, not a crash.
  if (!Object.hasOwn(table, machine.state)) return { ok: false, reason: `unknown machine state ${JSON.stringify(machine.state)}` };
  if (!lifecycleEventTypes.includes(event.type)) return { ok: false, reason: `unknown life-cycle event ${JSON.stringify(event.type)}` };
  const handler = table[machine.state][event.type] as Handler<LifecycleEventType> | undefined;
  if (!handler) return { ok: false, reason: refusal(machine, event) };
  const result = handler(machine, event);
  if (result.ok && machine.locked && isOperatorEvent(event)) {
    // Checked after legality so that unlocking is only suggested when it would help.
    return { ok: false, reason: `machine is locked: unlock it first (cannot ${verbs[event.type]} a locked machine in state ${machine.state})` };
  }
  return result;
}

/** One event of each type, for asking the table what it accepts (payloads do not change acceptance). */
export const sampleEvents: { readonly [T in LifecycleEventType]: EventOf<T> } = {
  'commission': { type: 'commission' }, 'test': { type: 'test' }, 'abort': { type: 'abort' },
  'mark-broken': { type: 'mark-broken', reason: 'sample' }, 'mark-fixed': { type: 'mark-fixed' },
  'allocate': { type: 'allocate' }, 'deploy': { type: 'deploy' }, 'release': { type: 'release' },
  'rescue': { type: 'rescue' }, 'exit-rescue': { type: 'exit-rescue' }, 'phase-passed': { type: 'phase-passed' },
  'phase-failed': { type: 'phase-failed', reason: 'sample' }, 'timeout': { type: 'timeout' },
};

/** Event types the table accepts for this machine now, operator actions first (filter with operatorEventTypes for help text). */
export function allowedEvents(machine: MachineFacts): LifecycleEventType[] {
  return lifecycleEventTypes.filter((type) => transition(machine, sampleEvents[type]).ok);
}

/**
 * The facts after an accepted transition to `state`: the bookkeeping the service stores with the state.
 * commissioned: set when commissioning passes. skipTests: the option of the latest `commission`.
 * beforeRescue: recorded on entering rescue mode from outside it, kept inside rescue mode's states,
 * cleared when the machine leaves them. deployTarget: set by `deploy`, kept until the machine is back
 * in a state without a deployment; installed: Deploying after the installer's run passed.
 */
/** States in which a machine has no deployment: entering one forgets the last (abort to Allocated too). */
const undeployedStates: readonly MachineState[] = ['New', 'Commissioning', 'Testing', 'Ready', 'Allocated'];

export function factsAfter(before: MachineFacts, event: LifecycleEvent, state: MachineState): MachineFacts {
  const commissioned = before.state === 'Commissioning' && event.type === 'phase-passed' ? true : before.commissioned;
  const skipTests = event.type === 'commission' ? event.skipTests === true : before.skipTests;
  const beforeRescue = !rescueStates.includes(state) ? undefined
    : rescueStates.includes(before.state) ? before.beforeRescue : before.state;
  const deployTarget = event.type === 'deploy' ? event.target ?? 'disk'
    : undeployedStates.includes(state) ? undefined : before.deployTarget;
  const installed = state === 'Deploying' && before.state === 'Deploying'
    && (before.installed === true || event.type === 'phase-passed');
  return {
    state, locked: before.locked,
    ...(commissioned !== undefined ? { commissioned } : {}),
    ...(skipTests !== undefined ? { skipTests } : {}),
    ...(beforeRescue !== undefined ? { beforeRescue } : {}),
    ...(deployTarget !== undefined ? { deployTarget } : {}),
    ...(installed || deployTarget !== undefined ? { installed } : {}),
  };
}
