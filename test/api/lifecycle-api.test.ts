// The operator API and the machine callbacks through inject(), on a real SQLite store: auth (401,
// 403), validation (400), illegal transitions (409), and a whole commissioning + testing run driven
// by callbacks as the micro image's runner makes them.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { untar } from '../support/tar.js';
import type { FastifyInstance } from 'fastify';
import type { RunnableScript } from '../../src/machines/scripts.js';
import { MachineService } from '../../src/machines/service.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import type { Store } from '../../src/store/index.js';
import { sampleInventory, silentLog } from '../support/fixtures.js';
import { FakePowerDriver } from '../support/power.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';

const auth = { authorization: `Bearer ${token}` };
const script = (name: string, kind: 'commissioning' | 'testing', body = 'exit 0'): RunnableScript => ({
  name, kind, description: '', timeoutSeconds: 60, parameters: {}, tags: [], content: Buffer.from(`#!/bin/sh\n${body}\n`), builtin: true,
});
const builtin = [script('00-inventory', 'commissioning'), script('50-memory', 'testing')];
/** The IPMI BMCs these tests report have no real BMC behind them: their query answers from here. */
let bmcQuery: () => Promise<'on' | 'off'> = () => Promise.resolve('off');
const powerDriver = (settings: { readonly type: string }) => settings.type === 'ipmi'
  ? Object.assign(new FakePowerDriver(), { query: () => bmcQuery() })
  : createPowerDriver(parsePowerSettings(settings));


describe('operator API and machine callbacks', () => {
  let appliance: TestAppliance;
  let store: Store;
  let service: MachineService;
  let api: FastifyInstance;
  let boot: FastifyInstance;

  beforeEach(async () => {
    // The whole appliance as `serve` builds it, not listening; no DHCP, so tokens are not bound to an
    // address here (test/security/boot-side.test.ts binds them).
    bmcQuery = () => Promise.resolve('off');
    appliance = await testAppliance({ builtinScripts: builtin, powerDriver });
    ({ store, service } = appliance);
    api = appliance.apiApp!;
    boot = appliance.bootApp!;
  });

  afterEach(async () => {
    await appliance.dispose();
  });

  const enlisted = () => store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs)).machine;
  const action = (id: string, name: string, payload?: object) =>
    api.inject({ method: 'POST', url: `/api/v1/machines/${id}/actions/${name}`, headers: auth, ...(payload ? { payload } : {}) });
  const callback = (machineToken: string, method: 'GET' | 'POST', path: string, payload?: object) =>
    boot.inject({ method, url: `/api/v1/machine/${path}`, headers: { authorization: `Bearer ${machineToken}` }, ...(payload ? { payload } : {}) });
  const result = (name: string, phase: string, exitCode = 0, stderr = '', files: Record<string, string> = {}) => ({
    phase, name, exitCode, timedOut: false, durationMs: 12, stdout: Buffer.from(`${name} ran`).toString('base64'),
    stderr: Buffer.from(stderr).toString('base64'), files,
  });

  test('401 without a token or with a wrong one; the OpenAPI document is public', async () => {
    expect((await api.inject({ method: 'GET', url: '/api/v1/machines' })).statusCode).toBe(401);
    const wrong = await api.inject({ method: 'GET', url: '/api/v1/machines', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    // A wrong token is not a missing one (probe F12): the code and the message say so.
    expect(wrong.json()).toEqual({ error: 'NB_ERR_AUTH_FAILED', message: 'wrong operator token' });
    const doc = await api.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toContain('/api/v1/machines/{id}/actions/{action}');
  });

  test('400 for malformed bodies, and nothing changes', async () => {
    const bad = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: 'not-a-mac', power: { type: 'manual' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/mac/);
    const badPower = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: '52:54:00:00:00:01', power: { type: 'ipmi' } } });
    expect(badPower.statusCode).toBe(400);
    expect(store.machines.list()).toEqual([]);
  });

  test('409 for an illegal transition, naming the state', async () => {
    const machine = enlisted();
    const response = await action(machine.id, 'deploy');
    expect(response.statusCode).toBe(409);
    expect(response.json().message).toMatch(/New/);
    expect(store.machines.get(machine.id)?.state).toBe('New');
  });

  test('a locked machine refuses actions until unlocked', async () => {
    const machine = enlisted();
    expect((await action(machine.id, 'lock')).json().locked).toBe(true);
    const refused = await action(machine.id, 'commission');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/locked/);
    await action(machine.id, 'unlock');
    expect((await action(machine.id, 'commission')).json().state).toBe('Commissioning');
  });

  test('commissioning and testing driven by callbacks end Ready, with inventory, results and automatic tags', async () => {
    await api.inject({ method: 'PUT', url: '/api/v1/tags/two-cpus', headers: auth, payload: { definition: 'cpu_count == 2' } });
    const added = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: '52:54:00:12:34:56', power: { type: 'manual' } } });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({ state: 'Commissioning', bootPurpose: 'commission' });
    expect(added.json().token).toBeUndefined();
    let machine = store.machines.get(added.json().id)!;
    const firstToken = machine.token!;

    const tar = await callback(firstToken, 'GET', 'scripts?phase=commissioning');
    expect(tar.statusCode).toBe(200);
    const files = await untar(tar.rawPayload);
    expect(files.get('index.tsv')).toBe('00-inventory\t60\tscripts/00-inventory\n');
    const inventory = Buffer.from(JSON.stringify(sampleInventory())).toString('base64');
    expect((await callback(firstToken, 'POST', 'results', result('00-inventory', 'commissioning', 0, '', { 'inventory.json': inventory }))).statusCode).toBe(204);
    expect((await callback(firstToken, 'POST', 'finished', { phase: 'commissioning' })).json()).toEqual({ state: 'Testing' });

    machine = store.machines.get(machine.id)!;
    expect(machine.inventory?.cpu.count).toBe(2);
    expect(machine.tags).toEqual(['two-cpus']);
    expect(machine.token).not.toBe(firstToken); // rotated per run
    expect((await callback(firstToken, 'GET', 'ping')).statusCode).toBe(401);
    expect((await callback(machine.token!, 'POST', 'results', result('50-memory', 'testing'))).statusCode).toBe(204);
    expect((await callback(machine.token!, 'POST', 'finished', { phase: 'testing' })).json()).toEqual({ state: 'Ready' });

    const runs = (await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}/results`, headers: auth })).json();
    expect(runs.map((r: { phase: string; status: string }) => `${r.phase} ${r.status}`)).toEqual(['testing passed', 'commissioning passed']);
    const listed = (await api.inject({ method: 'GET', url: '/api/v1/machines?tag=two-cpus&state=ready', headers: auth })).json();
    expect(listed.map((m: { id: string }) => m.id)).toEqual([machine.id]);
  });

  test('a machine added by hand keeps its timeline, and a new inventory adopts what its other NICs did', async () => {
    const second = '52:54:00:12:34:57';
    store.events.record({ mac: '52:54:00:12:34:56', type: 'dhcp-offer', detail: 'before it was added' });
    store.events.record({ mac: second, type: 'dhcp-offer', detail: 'second NIC' });
    const added = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: '52:54:00:12:34:56', power: { type: 'manual' } } });
    const { id } = added.json();
    const timeline = () => store.events.forMachine(id).map((e) => `${e.type} ${e.detail}`);
    expect(timeline()).toContain('dhcp-offer before it was added');
    expect(timeline()).toContainEqual(expect.stringMatching(/^machine-added /));
    const inventory = sampleInventory({ nics: [...sampleInventory().nics, { name: 'eth1', mac: second, driver: 'e1000', link: true, speedMbps: 1000 }] });
    const files = { 'inventory.json': Buffer.from(JSON.stringify(inventory)).toString('base64') };
    const runToken = store.machines.get(id)!.token!;
    expect((await callback(runToken, 'POST', 'results', result('00-inventory', 'commissioning', 0, '', files))).statusCode).toBe(204);
    expect(timeline()).toContain('dhcp-offer second NIC');
  });

  test('release answers at once with Releasing and completes to Ready once power-off is settled (manual: at once)', async () => {
    const machine = enlisted();
    store.machines.update(machine.id, { state: 'Allocated', commissioned: true });
    const released = await action(machine.id, 'release');
    expect(released.json().state).toBe('Releasing');
    await service.powerSettled(machine.id);
    expect(store.machines.get(machine.id)?.state).toBe('Ready');
    expect(store.events.forMachine(machine.id).map((e) => e.detail)).toContainEqual(expect.stringMatching(/make sure it is off/));
  });

  test('commissioning: the bundle carries the BMC parameters; a posted bmc-credentials.json is never kept or shown', async () => {
    const machine = enlisted();
    await action(machine.id, 'commission');
    const runToken = store.machines.get(machine.id)!.token!;
    const files = await untar((await callback(runToken, 'GET', 'scripts?phase=commissioning')).rawPayload);
    expect(files.get('scripts/00-inventory.env')).toBe("BMC_CREATE_USER='1'\nBMC_USERNAME='netboot'\n");
    const password = 'Xy7pQ2rT9sLm4NbV';
    const credentials = { driver: 'ipmi', address: '10.0.0.5', mac: '52:54:00:aa:bb:cc', channel: 1, user: 'netboot', password, created: true };
    const posted = result('00-inventory', 'commissioning', 0, '', { 'bmc-credentials.json': Buffer.from(JSON.stringify(credentials)).toString('base64') });
    expect((await callback(runToken, 'POST', 'results', posted)).statusCode).toBe(204);
    const shown = await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}/results`, headers: auth });
    expect(shown.json()[0].results[0].files).toEqual({});
    await expect.poll(() => store.machines.get(machine.id)!.power.type).toBe('ipmi'); // after the BMC answered the new user
    const timeline = await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}/events`, headers: auth });
    expect(timeline.body).toContain('IPMI BMC at 10.0.0.5');
    // A manual machine is powered through that BMC from now on, with the user made for us; the
    // password is sealed at rest and never shown.
    const view = (await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}`, headers: auth })).json();
    expect(view.power).toEqual({ type: 'ipmi', address: '10.0.0.5', user: 'netboot' });
    expect(timeline.body).not.toContain(password);
    expect(JSON.stringify(store.machines.get(machine.id)!.power)).not.toContain(password);
    expect(`${shown.body}${timeline.body}${JSON.stringify(view)}`).not.toContain(password);
  });

  test('a BMC the appliance cannot reach with the new user: noted with the reason, the settings stay', async () => {
    bmcQuery = () => Promise.reject(new Error('ipmitool: no answer from 10.0.0.7 (password Zz9yXx8wVv7uTt6s refused)'));
    const machine = enlisted();
    await action(machine.id, 'commission');
    const runToken = store.machines.get(machine.id)!.token!;
    const credentials = { driver: 'ipmi', address: '10.0.0.7', mac: '', channel: 1, user: 'netboot', password: 'Zz9yXx8wVv7uTt6s', created: true };
    await callback(runToken, 'POST', 'results', result('00-inventory', 'commissioning', 0, '', { 'bmc-credentials.json': Buffer.from(JSON.stringify(credentials)).toString('base64') }));
    const notes = () => store.events.forMachine(machine.id).map((e) => e.detail);
    await expect.poll(() => notes().some((d) => d.startsWith('power settings unchanged: the BMC did not answer'))).toBe(true);
    expect(store.machines.get(machine.id)!.power).toEqual({ type: 'manual' });
    expect(notes().join('\n')).not.toContain('Zz9yXx8wVv7uTt6s');
  });

  test('a BMC found on a machine the operator powers otherwise (QMP): noted, its driver stays', async () => {
    const machine = enlisted();
    await api.inject({ method: 'PATCH', url: `/api/v1/machines/${machine.id}`, headers: auth, payload: { power: { type: 'qemu', socket: '/run/vm.qmp' } } });
    await action(machine.id, 'commission');
    const runToken = store.machines.get(machine.id)!.token!;
    const credentials = { driver: 'ipmi', address: '10.0.0.6', mac: '', channel: 1, user: 'netboot', password: 'Ab3dEf6hIj9kLm2n', created: true };
    await callback(runToken, 'POST', 'results', result('00-inventory', 'commissioning', 0, '', { 'bmc-credentials.json': Buffer.from(JSON.stringify(credentials)).toString('base64') }));
    expect(store.machines.get(machine.id)!.power).toEqual({ type: 'qemu', socket: '/run/vm.qmp' });
    const notes = store.events.forMachine(machine.id).map((e) => e.detail);
    expect(notes).toContain('power settings unchanged: the machine is powered through qemu, which the operator chose');
  });

  test('a failing custom script fails commissioning, its stderr one request away', async () => {
    const upload = await api.inject({
      method: 'PUT', url: '/api/v1/scripts/30-fails', headers: auth,
      payload: { kind: 'commissioning', timeoutSeconds: 30, content: '#!/bin/sh\necho boom >&2\nexit 1\n' },
    });
    expect(upload.statusCode).toBe(200);
    const machine = enlisted();
    await action(machine.id, 'commission');
    const { token: runToken } = store.machines.get(machine.id)!;
    const files = await untar((await callback(runToken!, 'GET', 'scripts?phase=commissioning')).rawPayload);
    expect(files.get('index.tsv')).toContain('30-fails');
    await callback(runToken!, 'POST', 'results', result('00-inventory', 'commissioning'));
    await callback(runToken!, 'POST', 'results', result('30-fails', 'commissioning', 1, 'boom\n'));
    expect((await callback(runToken!, 'POST', 'finished', { phase: 'commissioning' })).json()).toEqual({ state: 'Failed commissioning' });
    const shown = (await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}`, headers: auth })).json();
    expect(shown.statusMessage).toBe('script 30-fails exited 1: boom');
    const [run] = (await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}/results`, headers: auth })).json();
    expect(run.results.find((r: { name: string }) => r.name === '30-fails').stderr).toBe('boom\n');
  });

  test('403 for another machine\'s token; callbacks outside the phase are refused', async () => {
    const a = enlisted();
    const b = store.machines.enlist(sampleInventory({ bootMac: '52:54:00:aa:bb:cc', nics: [{ name: 'eth0', mac: '52:54:00:aa:bb:cc', driver: 'e1000', link: true, speedMbps: 1000 }], dmi: { vendor: 'QEMU', product: 'x', serial: '', uuid: '' } }), () => undefined).machine;
    await action(a.id, 'commission');
    const tokenA = store.machines.get(a.id)!.token!;
    const forbidden = await boot.inject({ method: 'GET', url: `/api/v1/machines/${b.id}/ping`, headers: { authorization: `Bearer ${tokenA}` } });
    expect(forbidden.statusCode).toBe(403);
    expect((await boot.inject({ method: 'GET', url: `/api/v1/machines/${a.id}/ping`, headers: { authorization: `Bearer ${tokenA}` } })).body).toBe('pong');
    const wrongPhase = await callback(tokenA, 'POST', 'finished', { phase: 'testing' });
    expect(wrongPhase.statusCode).toBe(409);
    expect((await callback(tokenA, 'POST', 'results', { ...result('00-inventory', 'commissioning'), exitCode: 'zero' })).statusCode).toBe(400);
  });

  test('a machine that never calls back fails when its timer fires, also after a restart', async () => {
    const machine = enlisted();
    await action(machine.id, 'commission');
    await service.close();
    // A restarted appliance re-arms the stored deadline; here it is already past.
    store.machines.update(machine.id, { timer: { name: 'commissioning', deadline: Date.now() - 1 } });
    const restarted = new MachineService({
      store, log: silentLog, builtinScripts: builtin, powerDriver: (settings) => createPowerDriver(parsePowerSettings(settings)),
      timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
    });
    restarted.start();
    await expect.poll(() => store.machines.get(machine.id)?.state, { timeout: 2000 }).toBe('Failed commissioning');
    expect(store.machines.get(machine.id)?.statusMessage).toMatch(/no callback/);
    await restarted.close();
  });
});
