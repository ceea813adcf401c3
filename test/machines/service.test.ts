// MachineService on a real SQLite store with a fake power driver and an injected clock (STYLE.md §12):
// what the table's effects become when carried out. Phases that pass on a confirmed power-off
// (release, exit-rescue), timeouts with their reason, power failures on the timeline, and one power
// action in flight per machine, off the caller's path.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { LifecycleEvent, MachineState } from '../../src/machines/lifecycle.js';
import { MachineService, type MachineServiceDeps } from '../../src/machines/service.js';
import { openStore, type MachinePatch, type Store } from '../../src/store/index.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import type { BootFirmware } from '../../src/power/index.js';
import { FakePowerDriver, type FakePowerCall } from '../support/power.js';

const mac = '52:54:00:00:10:01';
const attempts = 4;

let dir: ReturnType<typeof tempDir>;
let clock: number;
let store: Store;
let driver: FakePowerDriver;
let service: MachineService;

function newService(more: Partial<MachineServiceDeps> = {}): MachineService {
  return new MachineService({
    store, log: silentLog, builtinScripts: [], powerDriver: () => driver,
    timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
    now: () => clock,
    // Waiting between power queries moves the clock instead of the test's wall time.
    sleep: async (ms) => { clock += ms; },
    powerConfirm: { intervalMs: 5000, attempts },
    ...more,
  });
}

beforeEach(() => {
  dir = tempDir();
  clock = Date.UTC(2026, 11, 6, 3, 0, 0);
  store = openStore(dir.path, () => clock);
  driver = new FakePowerDriver();
  service = newService();
});

afterEach(async () => {
  await service.close();
  await store.close();
  dir.cleanup();
});

/** A machine added by hand, put straight into `state` (the table is tested on its own). */
function machineIn(state: MachineState, patch: MachinePatch = {}): string {
  const { id } = store.machines.create({ bootMac: mac, power: { type: 'manual' } });
  store.machines.update(id, { state, commissioned: true, ...patch });
  return id;
}

/** Every phase's deadline passes; start() re-arms stored timers as after a restart, so they fire now. */
async function expire(id: string, until: MachineState): Promise<void> {
  clock += 3600_000;
  service.start();
  await vi.waitFor(() => expect(store.machines.get(id)?.state).toBe(until));
  await service.powerSettled(id);
}

const timeline = (id: string) => store.events.forMachine(id).map((e) => `${e.type}: ${e.detail}`);

interface Case {
  readonly name: string;
  readonly from: MachineState;
  readonly patch?: MachinePatch;
  readonly setup?: (d: FakePowerDriver) => void;
  readonly events: readonly LifecycleEvent[];
  /** Let the phase's timer run out after the events (and wait for this state). */
  readonly expireTo?: MachineState;
  readonly want: {
    readonly state: MachineState;
    readonly actions: readonly FakePowerCall[];
    readonly queries?: number;
    readonly status?: RegExp;
    /** Each must match an entry of the machine's timeline. */
    readonly timeline?: readonly RegExp[];
  };
}

const cases: Case[] = [
  {
    name: 'release powers off and completes to Ready once the driver reads off',
    from: 'Allocated', setup: (d) => { d.state = 'on'; d.answers = ['on', 'on']; },
    events: [{ type: 'release' }],
    want: { state: 'Ready', actions: ['off'], queries: 3, timeline: [/^power: off/, /^power: off confirmed/, /^state: Releasing -> Ready/] },
  },
  {
    name: 'release with a driver that cannot tell (manual) completes at once and asks the operator to check',
    from: 'Deployed', setup: (d) => { d.unknowable = true; },
    events: [{ type: 'release' }],
    want: { state: 'Ready', actions: ['off'], queries: 1, timeline: [/^note: power type 'manual' cannot report .* make sure it is off; Releasing is taken as passed/] },
  },
  {
    name: 'release with erase: the erase callback leads to Releasing, then Ready on power-off',
    from: 'Deployed', events: [{ type: 'release', erase: true }, { type: 'phase-passed' }],
    want: { state: 'Ready', actions: ['cycle', 'off'], timeline: [/^state: Disk erasing -> Releasing/, /^state: Releasing -> Ready/] },
  },
  {
    name: 'exit-rescue returns to Ready, where rescue began, powered off',
    from: 'Rescue', patch: { beforeRescue: 'Ready' }, events: [{ type: 'exit-rescue' }],
    want: { state: 'Ready', actions: ['off'], timeline: [/^state: Exiting rescue -> Ready/] },
  },
  {
    name: 'exit-rescue returns a deployed machine to Deployed and powers it on to boot its disk',
    from: 'Rescue', patch: { beforeRescue: 'Deployed' }, events: [{ type: 'exit-rescue' }],
    want: { state: 'Deployed', actions: ['off', 'on'], timeline: [/^state: Exiting rescue -> Deployed/] },
  },
  {
    name: 'a commissioning machine that never calls back fails with the timeout as its reason',
    from: 'New', events: [{ type: 'commission' }], expireTo: 'Failed commissioning',
    want: { state: 'Failed commissioning', actions: ['cycle', 'off'], status: /^commissioning failed: no callback within the commissioning timeout$/ },
  },
  {
    name: 'a release whose power-off never reads off stops asking, then fails on its timer',
    from: 'Allocated', setup: (d) => { d.answers = Array<'on'>(attempts).fill('on'); },
    events: [{ type: 'release' }], expireTo: 'Failed releasing',
    want: {
      state: 'Failed releasing', actions: ['off', 'off'], queries: attempts,
      status: /^releasing failed: power-off not confirmed within the releasing timeout$/,
      timeline: [new RegExp(`^note: power off not confirmed after ${attempts} queries; the releasing timer fails`)],
    },
  },
  {
    name: 'a failed power action is recorded on the timeline and the state stands',
    from: 'New', setup: (d) => { d.failures.cycle = 'BMC 10.0.0.9 unreachable'; }, events: [{ type: 'commission' }],
    want: { state: 'Commissioning', actions: ['cycle'], timeline: [/^power-failed: cycle: BMC 10.0.0.9 unreachable/] },
  },
  {
    name: 'power-off and its queries failing: the failures are recorded and the timer fails the release',
    from: 'Allocated',
    setup: (d) => { d.failures.off = 'IPMI session timed out'; d.failures.query = 'IPMI session timed out'; },
    events: [{ type: 'release' }], expireTo: 'Failed releasing',
    want: {
      state: 'Failed releasing', actions: ['off', 'off'], queries: attempts,
      timeline: [/^power-failed: off: IPMI session timed out/, /not confirmed after 4 queries \(last error: IPMI session timed out\)/],
    },
  },
];

describe('MachineService carries out the table', () => {
  test.each(cases)('$name', async ({ from, patch, setup, events, expireTo, want }) => {
    const id = machineIn(from, patch);
    setup?.(driver);
    for (const event of events) {
      expect(() => service.act(id, event)).not.toThrow();
      await service.powerSettled(id);
    }
    if (expireTo) await expire(id, expireTo);
    const machine = store.machines.get(id)!;
    expect(machine.state).toBe(want.state);
    expect(driver.actions).toEqual(want.actions);
    if (want.queries !== undefined) expect(driver.calls.filter((c) => c === 'query')).toHaveLength(want.queries);
    if (want.status) expect(machine.statusMessage).toMatch(want.status);
    const seen = timeline(id);
    for (const entry of want.timeline ?? []) expect(seen, `timeline has ${entry}`).toContainEqual(expect.stringMatching(entry));
  });
});

describe('one power action in flight per machine, off the request path', () => {
  test('act() returns the stored machine before the BMC answers', async () => {
    const id = machineIn('New');
    driver.delays.cycle = 100;
    const machine = service.act(id, { type: 'commission' });
    expect(machine.state).toBe('Commissioning');
    expect(driver.state).toBe('off');
    await service.powerSettled(id);
    expect(driver.state).toBe('on');
  });

  test('commission (a slow cycle) then abort (a fast off) ends powered off, in that order', async () => {
    const id = machineIn('New');
    driver.delays.cycle = 80;
    service.act(id, { type: 'commission' });
    service.act(id, { type: 'abort' });
    await service.powerSettled(id);
    expect(driver.actions).toEqual(['cycle', 'off']);
    expect(driver.state).toBe('off');
    expect(store.machines.get(id)?.state).toBe('New');
  });

  test('abort while a release waits for power-off: the confirmation stops and nothing passes', async () => {
    const id = machineIn('Allocated');
    driver.answers = ['on', 'on', 'on'];
    driver.delays.query = 20;
    service.act(id, { type: 'release' });
    service.act(id, { type: 'abort' });
    await service.powerSettled(id);
    expect(store.machines.get(id)?.state).toBe('Failed releasing');
    expect(driver.calls.filter((c) => c === 'query').length).toBeLessThan(attempts);
  });

  test('work run inPowerQueue (BMC adoption) that changes the power settings: the action queued after it uses the new ones', async () => {
    await service.close();
    const users: unknown[] = [];
    service = newService({ powerDriver: (settings) => { users.push(settings.user); return driver; } });
    const admin = { type: 'ipmi', address: '10.0.0.5', user: 'admin', password: 'Adm1n-pass' } as const;
    const id = machineIn('New', { power: admin });
    let release = () => undefined as void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const adopted = service.inPowerQueue(id, async () => {
      await held; // a BMC probe still under way when the machine moves on
      service.update(id, { power: { ...admin, user: 'netboot', password: 'N3w-pass-16chars' } });
    });
    service.act(id, { type: 'commission' }); // queued with the machine as it is now: user admin
    release();
    await adopted;
    await service.powerSettled(id);
    expect(driver.actions).toEqual(['cycle']);
    expect(users.at(-1)).toBe('netboot');
    expect(users).not.toContain('admin');
  });

  test('inPowerQueue settles as its work does', async () => {
    const id = machineIn('New');
    await expect(service.inPowerQueue(id, () => Promise.reject(new Error('probe failed')))).rejects.toThrow('probe failed');
    await expect(service.inPowerQueue(id, () => Promise.resolve())).resolves.toBeUndefined();
  });

  test('close() waits for power in flight, up to its deadline', async () => {
    await service.close();
    service = newService({ closeDeadlineMs: 50 });
    const id = machineIn('New');
    driver.delays.cycle = 5000;
    service.act(id, { type: 'commission' });
    const started = Date.now();
    await service.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('a machine added by hand', () => {
  test('has a timeline, including what it did on the wire before it was added', async () => {
    store.events.record({ mac, type: 'dhcp-offer', detail: '10.0.0.50' });
    store.events.flush();
    driver.unknowable = true;
    const machine = service.add({ mac, power: { type: 'manual' } });
    await service.powerSettled(machine.id);
    const seen = timeline(machine.id);
    expect(seen[0]).toBe('dhcp-offer: 10.0.0.50');
    expect(seen).toContainEqual(expect.stringMatching(/^machine-added: /));
    expect(seen).toContainEqual('state: New -> Commissioning');
    expect(seen).toContainEqual('power: cycle (manual)');
  });
});

describe('new power settings', () => {
  test('reset a stale error to unknown, clear its reason, and say so on the timeline', async () => {
    const id = machineIn('Ready', { power: { type: 'ipmi', address: '10.0.0.9' } });
    driver.failures.query = 'no answer from the BMC';
    await service.pollPower();
    expect(store.machines.get(id)).toMatchObject({ powerState: 'error', powerError: 'no answer from the BMC' });
    const updated = service.update(id, { power: { type: 'ipmi', address: '10.0.0.10' } });
    expect(updated).toMatchObject({ powerState: 'unknown', powerError: '' });
    expect(store.machines.get(id)).toMatchObject({ powerState: 'unknown', powerError: '' });
    expect(timeline(id)).toContainEqual('power-state: unknown (was error: no answer from the BMC)');
  });

  test('an action under way with the old settings does not put its error back', async () => {
    const id = machineIn('New', { power: { type: 'ipmi', address: '10.0.0.9' } });
    driver.delays.cycle = 50;
    driver.failures.cycle = 'the BMC refused the password';
    service.act(id, { type: 'commission' });
    // Changed once the cycle is at the old BMC: one still queued would go out with the new settings.
    await vi.waitFor(() => expect(driver.calls).toContain('cycle'));
    service.update(id, { power: { type: 'ipmi', address: '10.0.0.10' } });
    await service.powerSettled(id);
    expect(store.machines.get(id)).toMatchObject({ powerState: 'unknown', powerError: '' });
    expect(timeline(id)).toContainEqual(expect.stringMatching(/^power-failed: cycle: the BMC refused/));
  });
});

describe('next boot from the network in the firmware\'s mode', () => {
  /** The fake with a boot device to set: records the firmware each call was given. */
  class BootingDriver extends FakePowerDriver {
    readonly firmware: Array<BootFirmware | undefined> = [];
    setNextBootNetwork(firmware?: BootFirmware): Promise<void> {
      this.firmware.push(firmware);
      return Promise.resolve();
    }
  }

  test.each([
    { arch: 'x86_64-efi', want: 'uefi' },
    { arch: 'x86', want: 'bios' },
    { arch: 'x86_64', want: undefined },
  ] as const)('arch $arch: $want before the power cycle', async ({ arch, want }) => {
    const booting = new BootingDriver();
    driver = booting;
    const { id } = store.machines.create({ bootMac: mac, arch, power: { type: 'manual' } });
    service.act(id, { type: 'commission' });
    await service.powerSettled(id);
    expect(booting.firmware).toEqual([want]);
    expect(booting.actions).toEqual(['cycle']);
  });
});
