// The life-cycle table (STYLE.md §12, §14): every state × every event is either the expected move with
// its exact effects or a refusal naming the state; invariants over every question the table can be
// asked; reachability; locking; the committed diagram in docs/lifecycle.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { BootPurpose } from '../../src/machines/boot.js';
import {
  allowedEvents, bootPurposeOf, factsAfter, isBusyState, lifecycleEventTypes, machineStates, operatorEventTypes,
  renderDiagram, rescueOrigins, systemEventTypes, transition,
  type Effect, type LifecycleEvent, type LifecycleEventType, type MachineFacts, type MachineState, type RunPhase, type TimerName,
} from '../../src/machines/lifecycle.js';
import { machineStates as modelMachineStates } from '../../src/machines/model.js';
import { packageRoot } from '../../src/paths.js';

const rotate: Effect = { kind: 'rotate-token' };
const cancel: Effect = { kind: 'cancel-timer' };
const boot = (purpose: BootPurpose): Effect => ({ kind: 'boot-purpose', purpose });
const power = (action: 'on' | 'off' | 'cycle'): Effect => ({ kind: 'power', action });
const timer = (name: TimerName): Effect => ({ kind: 'start-timer', timer: name });
const run = (phase: RunPhase, skipTestsAfter?: boolean): Effect =>
  ({ kind: 'start-run', phase, ...(skipTestsAfter === undefined ? {} : { skipTestsAfter }) });
const note = (message: string): Effect => ({ kind: 'note', message });
const confirmOff: Effect = { kind: 'confirm-power', state: 'off' };

const brokenReason = 'fan failure';
const failReason = 'smartctl: 3 reallocated sectors';
const events: { readonly [T in LifecycleEventType]: LifecycleEvent } = {
  'commission': { type: 'commission' }, 'test': { type: 'test' }, 'abort': { type: 'abort' },
  'mark-broken': { type: 'mark-broken', reason: brokenReason }, 'mark-fixed': { type: 'mark-fixed' },
  'allocate': { type: 'allocate' }, 'deploy': { type: 'deploy' }, 'release': { type: 'release' },
  'rescue': { type: 'rescue' }, 'exit-rescue': { type: 'exit-rescue' }, 'phase-passed': { type: 'phase-passed' },
  'phase-failed': { type: 'phase-failed', reason: failReason }, 'timeout': { type: 'timeout' },
};
/** The facts of the table below: commissioned, tests not skipped, rescue entered from Deployed. */
const facts = (state: MachineState, more: Partial<MachineFacts> = {}): MachineFacts =>
  ({ state, locked: false, commissioned: true, skipTests: false, beforeRescue: 'Deployed', ...more });

type Want = { readonly to: MachineState; readonly effects: readonly Effect[] };
type Row = { readonly [T in LifecycleEventType]?: Want };

// Moves that start a phase, by their target.
const commissioning: Want = { to: 'Commissioning', effects: [rotate, run('commissioning', false), boot('commission'), power('cycle'), timer('commissioning'), note('commissioning started')] };
const testing: Want = { to: 'Testing', effects: [rotate, run('testing'), boot('test'), power('cycle'), timer('testing'), note('testing started')] };
const rescuing: Want = { to: 'Entering rescue', effects: [rotate, boot('rescue'), power('cycle'), timer('rescue'), note('entering rescue mode')] };
const releasing: Want = { to: 'Releasing', effects: [rotate, boot('off'), power('off'), confirmOff, timer('releasing'), note('release started; powering off')] };
/** Rescuing a deployed system (these facts' beforeRescue) keeps its token: its cloud-init posts with it afterwards. */
const rescuingDeployed: Want = { ...rescuing, effects: rescuing.effects.filter((e) => e !== rotate) };
const exiting: Want = { to: 'Exiting rescue', effects: [boot('local'), power('off'), confirmOff, timer('rescue'), note('exiting rescue mode; returning to Deployed')] };
const broken = (busy: boolean): Want =>
  ({ to: 'Broken', effects: [...(busy ? [cancel] : []), boot('off'), power('off'), note(`marked broken: ${brokenReason}`)] });
/** abort, phase-failed and timeout of a busy state: the same shape everywhere by design. */
function stops(name: string, aborted: MachineState, failed: MachineState, timeoutNote: string): Row {
  const stop = (to: MachineState, message: string): Want =>
    ({ to, effects: [cancel, boot(to === 'New' ? 'enlist' : 'off'), power('off'), note(message)] });
  return {
    'abort': stop(aborted, `${name} aborted`),
    'phase-failed': stop(failed, `${name} failed: ${failReason}`),
    'timeout': stop(failed, `${name} failed: ${timeoutNote}`),
  };
}

/** Every accepted (state, event) with the facts above; every cell not listed must be refused. */
const accepted: { readonly [S in MachineState]: Row } = {
  'New': { 'commission': commissioning, 'mark-broken': broken(false), 'rescue': rescuing },
  'Commissioning': {
    ...stops('commissioning', 'New', 'Failed commissioning', 'no callback within the commissioning timeout'),
    'mark-broken': broken(true),
    'phase-passed': { to: 'Testing', effects: [rotate, run('testing'), boot('test'), power('cycle'), timer('testing'), note('commissioning passed; testing started')] },
  },
  'Testing': {
    ...stops('testing', 'Failed testing', 'Failed testing', 'no callback within the testing timeout'),
    'mark-broken': broken(true),
    'phase-passed': { to: 'Ready', effects: [cancel, boot('off'), power('off'), note('testing passed')] },
  },
  'Ready': {
    'commission': commissioning, 'test': testing, 'mark-broken': broken(false), 'rescue': rescuing,
    'allocate': { to: 'Allocated', effects: [boot('off'), note('allocated')] },
    'deploy': { to: 'Deploying', effects: [rotate, run('deployment'), boot('deploy-disk'), power('cycle'), timer('deploying'), note('allocated; deployment started (to disk)')] },
  },
  'Allocated': {
    'mark-broken': broken(false), 'release': releasing, 'rescue': rescuing,
    'deploy': { to: 'Deploying', effects: [rotate, run('deployment'), boot('deploy-disk'), power('cycle'), timer('deploying'), note('deployment started (to disk)')] },
  },
  'Deploying': {
    ...stops('deployment', 'Allocated', 'Failed deployment', 'no callback within the deploying timeout'),
    'mark-broken': broken(true),
    // The installer's run passed: the disk boots under a fresh timer, with the same token (its seed has it).
    'phase-passed': { to: 'Deploying', effects: [boot('local'), power('cycle'), timer('deploying'), note('image installed; booting the deployed system from its disk')] },
  },
  'Deployed': { 'mark-broken': broken(false), 'release': releasing, 'rescue': rescuingDeployed },
  'Releasing': {
    ...stops('releasing', 'Failed releasing', 'Failed releasing', 'power-off not confirmed within the releasing timeout'),
    'mark-broken': broken(true),
    'phase-passed': { to: 'Ready', effects: [cancel, boot('off'), note('released')] },
  },
  'Disk erasing': {
    ...stops('disk erasing', 'Failed disk erasing', 'Failed disk erasing', 'no callback within the erasing timeout'),
    'mark-broken': broken(true),
    'phase-passed': { to: 'Releasing', effects: [rotate, boot('off'), power('off'), confirmOff, timer('releasing'), note('disks erased; powering off')] },
  },
  'Entering rescue': {
    ...stops('entering rescue mode', 'Failed entering rescue', 'Failed entering rescue', 'no callback within the rescue timeout'),
    'exit-rescue': exiting,
    'phase-passed': { to: 'Rescue', effects: [cancel, boot('rescue'), note('rescue mode ready')] },
  },
  'Rescue': { 'exit-rescue': exiting },
  'Exiting rescue': {
    ...stops('exiting rescue mode', 'Failed exiting rescue', 'Failed exiting rescue', 'power-off not confirmed within the rescue timeout'),
    'phase-passed': { to: 'Deployed', effects: [cancel, boot('local'), power('on'), note('exited rescue mode; back to Deployed')] },
  },
  'Broken': {
    'commission': commissioning, 'test': testing, 'rescue': rescuing,
    'mark-fixed': { to: 'Ready', effects: [boot('off'), power('off'), note('marked fixed')] },
  },
  'Failed commissioning': { 'commission': commissioning, 'mark-broken': broken(false), 'rescue': rescuing },
  'Failed testing': { 'commission': commissioning, 'test': testing, 'mark-broken': broken(false), 'rescue': rescuing },
  'Failed deployment': { 'test': testing, 'mark-broken': broken(false), 'release': releasing, 'rescue': rescuing },
  'Failed releasing': { 'test': testing, 'mark-broken': broken(false), 'release': releasing },
  'Failed disk erasing': { 'test': testing, 'mark-broken': broken(false), 'release': releasing, 'rescue': rescuing },
  'Failed entering rescue': { 'test': testing, 'mark-broken': broken(false), 'rescue': rescuingDeployed, 'exit-rescue': exiting },
  'Failed exiting rescue': { 'test': testing, 'mark-broken': broken(false), 'rescue': rescuingDeployed, 'exit-rescue': exiting },
};

const rescueStates: readonly MachineState[] = ['Entering rescue', 'Rescue', 'Exiting rescue', 'Failed entering rescue', 'Failed exiting rescue'];
/** The machine rescue mode was (or is being) entered from is a deployed one. */
const deployedBeforeRescue = (m: MachineFacts): boolean => (rescueStates.includes(m.state) ? m.beforeRescue : m.state) === 'Deployed';

const cells = machineStates.flatMap((state) => lifecycleEventTypes.map((type) => ({ state, type, want: accepted[state][type] })));

describe('every state × every event', () => {
  test.each(cells)('$state + $type', ({ state, type, want }) => {
    const got = transition(facts(state), events[type]);
    if (want) {
      expect(got).toEqual({ ok: true, state: want.to, effects: want.effects });
    } else {
      expect(got.ok).toBe(false);
      if (!got.ok) expect(got.reason).toContain(`state ${state}`);
    }
  });
});

describe('what the facts and payloads change', () => {
  const cases: { name: string; machine: MachineFacts; event: LifecycleEvent; want: Want | RegExp }[] = [
    {
      name: 'commission with skipTests', machine: facts('New'), event: { type: 'commission', skipTests: true },
      want: { to: 'Commissioning', effects: [rotate, run('commissioning', true), boot('commission'), power('cycle'), timer('commissioning'), note('commissioning started; tests will be skipped')] },
    },
    {
      name: 'commissioning passes with tests skipped', machine: facts('Commissioning', { skipTests: true }), event: events['phase-passed'],
      want: { to: 'Ready', effects: [cancel, boot('off'), power('off'), note('commissioning passed; tests skipped')] },
    },
    {
      name: 'release with erase', machine: facts('Deployed'), event: { type: 'release', erase: true },
      want: { to: 'Disk erasing', effects: [rotate, run('erasing'), boot('erase'), power('cycle'), timer('erasing'), note('release started; erasing disks')] },
    },
    {
      name: 'the installed disk\'s cloud-init reports: Deployed, booting the disk from now on', machine: facts('Deploying', { deployTarget: 'disk', installed: true }),
      event: events['phase-passed'], want: { to: 'Deployed', effects: [cancel, boot('local'), note('deployed: the system\'s cloud-init finished')] },
    },
    {
      name: 'deploy in memory: no installer run, the ephemeral image with the seed', machine: facts('Ready'), event: { type: 'deploy', target: 'memory' },
      want: { to: 'Deploying', effects: [rotate, boot('deploy-memory'), power('cycle'), timer('deploying'), note('allocated; deployment started (in memory)')] },
    },
    {
      name: 'a memory deployment\'s cloud-init reports: Deployed, netbooting it from now on', machine: facts('Deploying', { deployTarget: 'memory' }),
      event: events['phase-passed'], want: { to: 'Deployed', effects: [cancel, boot('deploy-memory'), note('deployed: the system\'s cloud-init finished')] },
    },
    {
      name: 'a memory deployment leaves rescue mode netbooting again', machine: facts('Exiting rescue', { beforeRescue: 'Deployed', deployTarget: 'memory' }),
      event: events['phase-passed'], want: { to: 'Deployed', effects: [cancel, boot('deploy-memory'), power('on'), note('exited rescue mode; back to Deployed')] },
    },
    {
      name: 'mark-fixed, never commissioned', machine: facts('Broken', { commissioned: false }), event: events['mark-fixed'],
      want: { to: 'New', effects: [boot('enlist'), power('off'), note('marked fixed; never commissioned, so back to New')] },
    },
    { name: 'test, never commissioned', machine: facts('Broken', { commissioned: undefined }), event: events.test, want: /state Broken: commission it first/ },
    { name: 'test from Ready needs no commissioned fact', machine: facts('Ready', { commissioned: undefined }), event: events.test, want: testing },
    {
      name: 'exit rescue mode to a powered-off state', machine: facts('Rescue', { beforeRescue: 'Ready' }), event: events['exit-rescue'],
      want: { to: 'Exiting rescue', effects: [rotate, boot('off'), power('off'), confirmOff, timer('rescue'), note('exiting rescue mode; returning to Ready')] },
    },
    {
      name: 'rescue mode exited to Ready stays off', machine: facts('Exiting rescue', { beforeRescue: 'Ready' }), event: events['phase-passed'],
      want: { to: 'Ready', effects: [cancel, boot('off'), note('exited rescue mode; back to Ready')] },
    },
    {
      name: 'rescue mode exited, origin unknown: Broken', machine: facts('Exiting rescue', { beforeRescue: undefined }), event: events['phase-passed'],
      want: { to: 'Broken', effects: [cancel, boot('off'), note('exited rescue mode; back to Broken')] },
    },
    { name: 'mark-broken without a reason', machine: facts('Ready'), event: { type: 'mark-broken', reason: ' ' }, want: { to: 'Broken', effects: [boot('off'), power('off'), note('marked broken')] } },
    { name: 'the example reason', machine: facts('New'), event: events.deploy, want: /^cannot deploy a machine in state New: commission it first$/ },
    { name: 'busy: wait or abort', machine: facts('Deploying'), event: events.release, want: /^cannot release a machine in state Deploying: deployment is in progress: wait for it to finish, or abort it$/ },
    { name: 'deploy after a failed deployment', machine: facts('Failed deployment'), event: events.deploy, want: /Failed deployment: release it first$/ },
    { name: 'testing a deployed machine', machine: facts('Deployed'), event: events.test, want: /Deployed: release it first/ },
    { name: 'nothing to abort', machine: facts('Ready'), event: events.abort, want: /^cannot abort a machine in state Ready: nothing is in progress$/ },
    { name: 'late callback', machine: facts('Ready'), event: events['phase-passed'], want: /^unexpected phase-passed for a machine in state Ready: no phase is running$/ },
    { name: 'stale timer', machine: facts('Deployed'), event: events.timeout, want: /^unexpected timeout for a machine in state Deployed/ },
    { name: 'unknown state from the store', machine: facts('Retired' as MachineState), event: events.commission, want: /unknown machine state "Retired"/ },
    { name: 'unknown event', machine: facts('Ready'), event: { type: 'reboot' } as unknown as LifecycleEvent, want: /unknown life-cycle event "reboot"/ },
  ];
  test.each(cases)('$name', ({ machine, event, want }) => {
    const got = transition(machine, event);
    if (want instanceof RegExp) expect(got).toMatchObject({ ok: false, reason: expect.stringMatching(want) });
    else expect(got).toEqual({ ok: true, state: want.to, effects: want.effects });
  });
});

/** Every machine the table can be asked about: every state with every combination of the facts it reads. */
const deployFacts: Pick<MachineFacts, 'deployTarget' | 'installed'>[] = [
  {}, { deployTarget: 'disk', installed: false }, { deployTarget: 'disk', installed: true }, { deployTarget: 'memory', installed: false },
];
const allFacts: MachineFacts[] = machineStates.flatMap((state) => [false, true].flatMap((commissioned) => [false, true].flatMap((skipTests) =>
  [undefined, ...rescueOrigins].flatMap((beforeRescue) => deployFacts.map((deployed): MachineFacts =>
    ({ state, locked: false, commissioned, skipTests, ...(beforeRescue ? { beforeRescue } : {}), ...deployed }))))));
const allEvents: LifecycleEvent[] = [
  ...Object.values(events), { type: 'commission', skipTests: true }, { type: 'release', erase: true }, { type: 'deploy', target: 'memory' },
];
const timers: { readonly [S in MachineState]?: TimerName } = {
  'Commissioning': 'commissioning', 'Testing': 'testing', 'Deploying': 'deploying', 'Releasing': 'releasing',
  'Disk erasing': 'erasing', 'Entering rescue': 'rescue', 'Exiting rescue': 'rescue',
};
const effectOrder: Effect['kind'][] = ['cancel-timer', 'rotate-token', 'start-run', 'boot-purpose', 'power', 'confirm-power', 'start-timer', 'note'];
/** The phases that pass on a confirmed power-off instead of a callback (nothing boots in them). */
const confirmed: readonly MachineState[] = ['Releasing', 'Exiting rescue'];

describe('invariants over every question', () => {
  /** What is wrong with one accepted move, if anything (collected rather than asserted: 25,000 moves). */
  function problems(machine: MachineFacts, event: LifecycleEvent, to: MachineState, effects: readonly Effect[]): string[] {
    const kinds = effects.map((e) => e.kind);
    const entering = timers[to];
    const purposes = effects.flatMap((e) => (e.kind === 'boot-purpose' ? [e.purpose] : []));
    const started = effects.flatMap((e) => (e.kind === 'start-timer' ? [e.timer] : []));
    const checks: [boolean, string][] = [
      [purposes.length === 1 && purposes[0] === bootPurposeOf(factsAfter(machine, event, to)), `boot purposes ${purposes.join()}`],
      [started.join() === (entering ?? ''), `timers started: ${started.join()}`],
      // Deploying -> Deploying (installed, booting the disk) keeps the token: the disk's seed carries it.
      // So does rescuing a deployed system, going in and out: its cloud-init posts with it afterwards.
      [kinds.includes('rotate-token') === (entering !== undefined && !(machine.state === 'Deploying' && to === 'Deploying')
        && !(['Entering rescue', 'Exiting rescue'].includes(to) && deployedBeforeRescue(machine))), 'a token rotates exactly when a phase starts'],
      [kinds.includes('cancel-timer') === (timers[machine.state] !== undefined && entering === undefined), 'cancel-timer exactly when leaving a timed state for an untimed one'],
      [isBusyState(to) === (entering !== undefined), 'busy states are the timed states'],
      [[...kinds].sort((a, b) => effectOrder.indexOf(a) - effectOrder.indexOf(b)).join() === kinds.join(), `order ${kinds.join()}`],
      [kinds.filter((k) => k === 'note').length === 1 && kinds.at(-1) === 'note', 'one note, last'],
      [kinds.includes('confirm-power') === (confirmed.includes(to) && entering !== undefined), 'confirm-power exactly when entering a phase that waits for power-off'],
      [!kinds.includes('confirm-power') || effects.some((e) => e.kind === 'power' && e.action === 'off'), 'confirm-power follows a power off'],
    ];
    return checks.filter(([good]) => !good).map(([, what]) => `${machine.state} + ${event.type} -> ${to}: ${what}`);
  }

  test('effects: one boot purpose for the new state, timers follow busy states, service order, one note last', () => {
    const found: string[] = [];
    for (const machine of allFacts) {
      for (const event of allEvents) {
        const got = transition(machine, event);
        if (got.ok) found.push(...problems(machine, event, got.state, got.effects));
        else if (!got.reason.includes(`state ${machine.state}`)) found.push(`${machine.state} + ${event.type}: reason "${got.reason}" does not name the state`);
      }
    }
    expect([...new Set(found)]).toEqual([]);
  });

  test('allowedEvents lists exactly the accepted event types, operator actions first', () => {
    for (const machine of allFacts) {
      const accepted = lifecycleEventTypes.filter((type) => allEvents.some((e) => e.type === type && transition(machine, e).ok));
      expect(allowedEvents(machine)).toEqual(accepted);
    }
    expect(allowedEvents(facts('New'))).toEqual(['commission', 'mark-broken', 'rescue']);
    expect(allowedEvents(facts('Rescue'))).toEqual(['exit-rescue']);
  });
});

describe('locked machines', () => {
  test('refuse every operator action the table would accept, naming the lock; callbacks and timers go on', () => {
    const found: string[] = [];
    for (const machine of allFacts) {
      for (const event of allEvents) {
        const open = transition(machine, event);
        const locked = transition({ ...machine, locked: true }, event);
        const isOperator = (operatorEventTypes as readonly string[]).includes(event.type);
        const good = isOperator && open.ok
          ? !locked.ok && /^machine is locked: unlock it first \(cannot .+ in state /.test(locked.reason)
          : JSON.stringify(locked) === JSON.stringify(open);
        if (!good) found.push(`${machine.state} + ${event.type}: ${JSON.stringify(locked)}`);
      }
    }
    expect(found).toEqual([]);
  });

  test('allowedEvents of a locked machine: only what the machine and timers send', () => {
    expect(allowedEvents(facts('Deployed', { locked: true }))).toEqual([]);
    expect(allowedEvents(facts('Deploying', { locked: true }))).toEqual([...systemEventTypes]);
    expect(transition(facts('Deployed', { locked: true }), events.release))
      .toEqual({ ok: false, reason: 'machine is locked: unlock it first (cannot release a locked machine in state Deployed)' });
  });
});

describe('reachability and the facts the service keeps', () => {
  test('every state is reachable from New, keeping the facts as factsAfter says', () => {
    const start: MachineFacts = { state: 'New', locked: false };
    const seen = new Map<string, MachineFacts>([[JSON.stringify(start), start]]);
    const queue = [start];
    for (let machine = queue.shift(); machine; machine = queue.shift()) {
      for (const event of allEvents) {
        const got = transition(machine, event);
        if (!got.ok) continue;
        const next = factsAfter(machine, event, got.state);
        const key = JSON.stringify(next);
        if (!seen.has(key)) { seen.set(key, next); queue.push(next); }
      }
    }
    const reached = new Set([...seen.values()].map((m) => m.state));
    expect(machineStates.filter((s) => !reached.has(s))).toEqual([]);
    // A machine never commissioned is never tested outside Ready (which it cannot reach uncommissioned).
    for (const m of seen.values()) if (m.state === 'Ready') expect(m.commissioned).toBe(true);
  });

  test('factsAfter: commissioned, skipTests, beforeRescue', () => {
    const ready: MachineFacts = { state: 'Ready', locked: true, commissioned: true, skipTests: true };
    expect(factsAfter(ready, { type: 'commission' }, 'Commissioning')).toEqual({ state: 'Commissioning', locked: true, commissioned: true, skipTests: false });
    expect(factsAfter({ state: 'Commissioning', locked: false }, events['phase-passed'], 'Testing')).toEqual({ state: 'Testing', locked: false, commissioned: true });
    const entering = factsAfter(facts('Deployed', { beforeRescue: undefined }), events.rescue, 'Entering rescue');
    expect(entering.beforeRescue).toBe('Deployed');
    const failed = factsAfter(entering, events.timeout, 'Failed entering rescue');
    expect(factsAfter(failed, events.rescue, 'Entering rescue').beforeRescue).toBe('Deployed');
    expect(factsAfter(facts('Exiting rescue'), events['phase-passed'], 'Deployed').beforeRescue).toBeUndefined();
  });

  test('model.ts re-exports the states', () => {
    expect(modelMachineStates).toBe(machineStates);
  });
});

describe('docs/lifecycle.md', () => {
  // The page's ```mermaid block is the golden copy of renderDiagram(); UPDATE_GOLDEN=1 rewrites just
  // that block (test/support/golden.ts does the same for whole files) and leaves the prose alone.
  const page = join(packageRoot, 'docs/lifecycle.md');
  const block = /```mermaid\n([\s\S]*?)```/;

  test('shows the table as the code has it', () => {
    const diagram = renderDiagram();
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(page, readFileSync(page, 'utf8').replace(block, () => `\`\`\`mermaid\n${diagram}\`\`\``));
    }
    const found = block.exec(readFileSync(page, 'utf8'));
    expect(found, 'docs/lifecycle.md has a ```mermaid block').not.toBeNull();
    expect(found?.[1]).toBe(diagram);
  });

  test('the diagram names every state and every state has a way out', () => {
    const diagram = renderDiagram();
    for (const state of machineStates.filter((s) => s.includes(' '))) expect(diagram).toContain(`state "${state}" as`);
    const sources = new Set([...diagram.matchAll(/^ {2}(\w+) -->/gm)].map((m) => m[1]));
    expect(machineStates.map((s) => s.split(' ').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')).filter((id) => !sources.has(id))).toEqual([]);
  });
});
