// A machine's script run as its callbacks drive it, on a real SQLite store (the HTTP side is in
// test/api/lifecycle-api.test.ts): the bundle's scripts, results within their limits, the inventory
// script's output becoming the inventory with automatic tags, the run's verdict, late callbacks
// refused; a BMC script's credentials kept out of the stored result and handed to the power side;
// the commissioning bundle's BMC parameters; and the operator's user-data through
// MachineService.setUserData.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { BmcCredentials } from '../../src/machines/bmc-credentials.js';
import type { Machine } from '../../src/machines/model.js';
import { phaseParameters } from '../../src/machines/phase-parameters.js';
import { ScriptRuns, type ResultReport } from '../../src/machines/script-runs.js';
import type { RunnableScript } from '../../src/machines/scripts.js';
import { MachineService } from '../../src/machines/service.js';
import { Tagging } from '../../src/machines/tagging.js';
import { resultLimits } from '../../src/machines/result-limits.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sampleInventory, silentLog, tempDir } from '../support/fixtures.js';
import { FakePowerDriver } from '../support/power.js';

const mac = '52:54:00:12:34:56';
const builtins: RunnableScript[] = [
  { name: '00-inventory', kind: 'commissioning', description: '', timeoutSeconds: 60, parameters: {}, tags: [], content: Buffer.from('#!/bin/sh\n'), builtin: true },
  { name: '50-smoke', kind: 'testing', description: '', timeoutSeconds: 60, parameters: {}, tags: [], content: Buffer.from('#!/bin/sh\n'), builtin: true },
];

let dir: ReturnType<typeof tempDir>;
let store: Store;
let service: MachineService;
let tagging: Tagging;
let runs: ScriptRuns;

beforeEach(() => {
  dir = tempDir();
  store = openStore(dir.path);
  const driver = new FakePowerDriver();
  service = new MachineService({
    store, log: silentLog, builtinScripts: builtins, powerDriver: () => driver,
    timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
  });
  tagging = new Tagging(store);
  runs = new ScriptRuns({ store, service, tagging });
});

afterEach(async () => {
  await service.close();
  await store.close();
  dir.cleanup();
});

function report(fields: Partial<ResultReport> = {}): ResultReport {
  return {
    phase: 'commissioning', name: '00-inventory', exitCode: 0, timedOut: false, durationMs: 12,
    stdout: Buffer.from('ok\n'), stderr: Buffer.alloc(0), files: {}, ...fields,
  };
}

const details = (id: string, type: string) => store.events.forMachine(id).filter((e) => e.type === type).map((e) => e.detail);

describe('ScriptRuns', () => {
  test('bundle: the run\'s scripts in order, when it started, and a timeline entry; outside the phase: 409', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(machine.state).toBe('Commissioning');
    const { scripts, startedAt } = runs.bundle(machine, 'commissioning');
    expect(scripts.map((s) => s.name)).toEqual(['00-inventory']);
    expect(startedAt).toBe(store.scripts.run(machine.runId!)!.startedAt);
    expect(details(machine.id, 'scripts')).toEqual(['commissioning: 00-inventory']);
    expect(() => runs.bundle(machine, 'testing')).toThrow(expect.objectContaining({ statusCode: 409 }));
  });

  test('a script uploaded after the run started waits for the next run', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    store.scripts.put({ name: '10-late', kind: 'commissioning', description: '', timeoutSeconds: 9, parameters: {}, tags: [], content: Buffer.from('#!/bin/sh\n') });
    expect(runs.bundle(machine, 'commissioning').scripts.map((s) => s.name)).toEqual(['00-inventory']);
  });

  test('an unsafe stored script is left out of the run, with a timeline entry saying why', () => {
    store.scripts.put({ name: '10-old', kind: 'commissioning', description: '', timeoutSeconds: 9, parameters: { 'X=1 $(id) Y': 'v' }, tags: [], content: Buffer.from('#!/bin/sh\n') });
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(store.scripts.run(machine.runId!)!.scripts).toEqual(['00-inventory']);
    expect(details(machine.id, 'scripts')).toEqual([expect.stringMatching(/^skipped 10-old: parameter name/)]);
  });

  test('recordResult keeps the output tail, refuses scripts outside the run, and ingests inventory.json with automatic tags', () => {
    tagging.define({ name: 'two-cpu', definition: 'cpu_count == 2', comment: '' });
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(() => runs.recordResult(machine, report({ name: '99-other' }))).toThrow(/not part of run/);
    const huge = Buffer.alloc(resultLimits.outputBytes + 10, 'x');
    const inventory = sampleInventory({ nics: [...sampleInventory().nics, { name: 'eth1', mac: '52:54:00:12:34:57', driver: 'e1000', link: false, speedMbps: null }] });
    runs.recordResult(machine, report({ stdout: huge, files: { 'inventory.json': Buffer.from(JSON.stringify(inventory)) } }));
    const [result] = store.scripts.run(machine.runId!)!.results;
    expect(result!.stdout.toString()).toMatch(/^\[netboot: the first 10 bytes of this output were not kept\]/);
    const after = service.get(machine.id);
    expect(after.inventory?.nics).toHaveLength(2);
    expect(after.tags).toEqual(['two-cpu']);
    expect(details(machine.id, 'inventory')).toEqual(['2 cpu, 512 MiB, 1 disk(s); tagged two-cpu']);
    expect(details(machine.id, 'script-result')).toEqual(['00-inventory exit 0 in 12 ms']);
  });

  test.each([
    { name: 'not JSON', bytes: '{', why: /not JSON/ },
    { name: 'off the schema', bytes: JSON.stringify({ ...sampleInventory(), memoryBytes: 1e308 }), why: /rejected \(\/memoryBytes/ },
    { name: 'a boot MAC that is none of its NICs', bytes: JSON.stringify(sampleInventory({ bootMac: '52:54:00:99:99:99' })), why: /not the MAC of any NIC/ },
  ])('an inventory.json $name is refused on the timeline and the machine keeps none', ({ bytes, why }) => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(runs.ingestInventory(machine, Buffer.from(bytes))).toBeUndefined();
    expect(service.get(machine.id).inventory).toBeNull();
    expect(details(machine.id, 'inventory')).toEqual([expect.stringMatching(why)]);
  });

  test('finish: passes with every script passed, fails with the first failing script, and a late finish is refused', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    runs.recordResult(machine, report());
    const testing = runs.finish(machine, 'commissioning');
    expect(testing.state).toBe('Testing');
    // Each callback hands in the machine as authenticated for that request.
    expect(() => runs.finish(service.get(machine.id), 'commissioning')).toThrow(/not running commissioning scripts/);
    runs.recordResult(testing, report({ phase: 'testing', name: '50-smoke', exitCode: 3, stderr: Buffer.from('disk\nbad sector\n') }));
    const failed = runs.finish(testing, 'testing');
    expect(failed.state).toBe('Failed testing');
    expect(failed.statusMessage).toBe('script 50-smoke exited 3: bad sector');
  });

  test('finish with no result reported, or with the machine\'s own error, fails the phase with that reason', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(runs.finish(machine, 'commissioning', 'network unreachable').statusMessage).toBe('network unreachable');
    const again = service.act(machine.id, { type: 'commission' });
    expect(runs.finish(again, 'commissioning').statusMessage).toBe('script 00-inventory reported no result');
  });
});

describe('ScriptRuns: the BMC script\'s credentials', () => {
  const password = 'Xy7pQ2rT9sLm4NbV';
  const credentials = { driver: 'ipmi', address: '10.0.0.5', mac: '52:54:00:aa:bb:cc', channel: 1, user: 'netboot', password, created: true };
  const file = (value: unknown) => ({ 'bmc-credentials.json': Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) });
  let handed: { machine: Machine; credentials: BmcCredentials }[];
  beforeEach(() => {
    handed = [];
    runs = new ScriptRuns({ store, service, tagging, onBmcCredentials: (machine, c) => { handed.push({ machine, credentials: c }); } });
  });
  const everything = (id: string) => JSON.stringify(store.events.forMachine(id)) + JSON.stringify(store.scripts.run(service.get(id).runId!));

  test('are not stored with the result, go to the hook parsed, and the timeline says what was found without the password', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    runs.recordResult(machine, report({ files: { ...file(credentials), 'bmc.json': Buffer.from('{}') } }));
    const [result] = store.scripts.run(machine.runId!)!.results;
    expect(Object.keys(result!.files)).toEqual(['bmc.json']);
    expect(handed).toEqual([{ machine, credentials }]);
    expect(details(machine.id, 'note')).toContain('IPMI BMC at 10.0.0.5 (MAC 52:54:00:aa:bb:cc), LAN channel 1; user netboot set up as administrator');
    expect(everything(machine.id)).not.toContain(password);
  });

  test('an address-only report, and a BMC without an address, are handed over and described as such', () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    const addressOnly = { driver: 'ipmi', address: '0.0.0.0', mac: '', channel: 2, created: false };
    runs.recordResult(machine, report({ files: file(addressOnly) }));
    expect(handed.map((h) => h.credentials)).toEqual([addressOnly]);
    expect(details(machine.id, 'note')).toContain('IPMI BMC without a LAN address (0.0.0.0) on channel 2; no user created');
  });

  test.each([
    { name: 'not JSON', value: '{"password": "Xy7pQ2rT9sLm4NbV"', why: 'bmc-credentials.json is not JSON' },
    { name: 'a bad address', value: { ...credentials, address: '10.0.0.300' }, why: 'bmc-credentials.json rejected (/address' },
    { name: 'a user without a password', value: { ...credentials, password: undefined }, why: 'bmc-credentials.json rejected (/password' },
    { name: 'an unknown driver', value: { ...credentials, driver: 'redfish' }, why: 'bmc-credentials.json rejected (/driver' },
    { name: 'extra fields', value: { ...credentials, shell: '$(reboot)' }, why: 'bmc-credentials.json rejected (/shell' },
  ])('a file with $name is noted and ignored, never stored', ({ value, why }) => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    runs.recordResult(machine, report({ files: file(value) }));
    expect(handed).toEqual([]);
    const notes = details(machine.id, 'note').filter((d) => d !== 'commissioning started');
    expect(notes).toEqual([expect.stringContaining(why)]);
    expect(notes[0]).toMatch(/: BMC settings from 00-inventory ignored$/);
    expect(store.scripts.run(machine.runId!)!.results[0]!.files).toEqual({});
    expect(everything(machine.id)).not.toContain(password);
  });

  test('outside commissioning the file is dropped; a hook that throws or rejects leaves a note, the result stays', async () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    runs = new ScriptRuns({ store, service, tagging, onBmcCredentials: () => { throw new Error('no ipmi driver yet'); } });
    runs.recordResult(machine, report({ files: file(credentials) }));
    expect(details(machine.id, 'note')).toContain('BMC settings from 00-inventory not applied: no ipmi driver yet');
    expect(details(machine.id, 'script-result')).toEqual(['00-inventory exit 0 in 12 ms']);
    runs = new ScriptRuns({ store, service, tagging, onBmcCredentials: () => Promise.reject(new Error('store is closing')) });
    runs.recordResult(machine, report({ files: file(credentials) }));
    await expect.poll(() => details(machine.id, 'note')).toContain('BMC settings from 00-inventory not applied: store is closing');
    const testing = runs.finish(machine, 'commissioning');
    runs.recordResult(testing, report({ phase: 'testing', name: '50-smoke', files: file(credentials) }));
    expect(details(machine.id, 'note')).toContain('bmc-credentials.json from 50-smoke ignored: BMCs are set up while commissioning');
    expect(everything(machine.id)).not.toContain(password);
  });
});

describe('phaseParameters: commissioning', () => {
  const parameters = (bmc: { createUser: boolean; username: string }) => phaseParameters({
    publicUrl: 'http://10.0.0.1', defaultEraseMode: 'quick', bmc, installable: () => { throw new Error('no images here'); },
  });

  test('the built-in commissioning scripts get BMC_CREATE_USER and BMC_USERNAME from the config', () => {
    runs = new ScriptRuns({ store, service, tagging, phaseParameters: parameters({ createUser: false, username: 'ops' }) });
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect(runs.bundle(machine, 'commissioning').scripts.map((s) => [s.name, s.parameters]))
      .toEqual([['00-inventory', { BMC_CREATE_USER: '0', BMC_USERNAME: 'ops' }]]);
    expect(parameters({ createUser: true, username: 'netboot' })(machine, 'commissioning')).toEqual({ BMC_CREATE_USER: '1', BMC_USERNAME: 'netboot' });
    expect(parameters({ createUser: true, username: 'netboot' })(machine, 'testing')).toEqual({});
  });
});

describe('MachineService.setUserData', () => {
  test('stores it and notes it on the timeline without the content; clears with ""; a locked or unknown machine refuses', async () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    expect((await service.setUserData(machine.id, '#cloud-config\npassword: secret\n', 'cloud-config, 30 bytes')).userData).toBe('#cloud-config\npassword: secret\n');
    expect((await service.setUserData(machine.hostname, '', 'none, 0 bytes')).userData).toBe('');
    expect(details(machine.id, 'note').filter((d) => d.startsWith('user-data'))).toEqual(['user-data set (cloud-config, 30 bytes)', 'user-data cleared']);
    service.update(machine.id, { locked: true });
    await expect(service.setUserData(machine.id, '#cloud-config\n', 'x')).rejects.toMatchObject({ statusCode: 409 });
    await expect(service.setUserData('nope', '', 'x')).rejects.toMatchObject({ statusCode: 404 });
  });

  test('the check runs only for an unlocked machine, and a lock taken while it runs still wins', async () => {
    const machine = service.add({ mac, power: { type: 'manual' } });
    service.update(machine.id, { locked: true });
    let checks = 0;
    await expect(service.setUserData(machine.id, '#cloud-config\n', 'x', async () => { checks++; })).rejects.toMatchObject({ statusCode: 409 });
    expect(checks).toBe(0);
    service.update(machine.id, { locked: false });
    const lockMeanwhile = async () => { checks++; service.update(machine.id, { locked: true }); };
    await expect(service.setUserData(machine.id, '#cloud-config\n', 'x', lockMeanwhile)).rejects.toMatchObject({ statusCode: 409 });
    expect(checks).toBe(1);
    expect(service.get(machine.id).userData).toBe('');
    service.update(machine.id, { locked: false });
    await expect(service.setUserData(machine.id, '#cloud-config\n', 'x', async () => { throw new Error('schema says no'); })).rejects.toThrow('schema says no');
    expect(service.get(machine.id).userData).toBe('');
  });
});
