// The seed and the cloud-init callbacks through inject(), on a real SQLite store; and the operator's
// user-data API with cloud-init's real schema check.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { cloudInitSchemaChecker } from '../../src/cloud-init/index.js';
import type { MachineService } from '../../src/machines/service.js';
import type { Store } from '../../src/store/index.js';
import { sampleInventory } from '../support/fixtures.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';
import { pythonMimeParts } from './support.js';

const auth = { authorization: `Bearer ${token}` };

describe('cloud-init seed, callbacks and operator user-data', () => {
  let appliance: TestAppliance;
  let store: Store;
  let service: MachineService;
  let api: FastifyInstance;
  let boot: FastifyInstance;

  beforeEach(async () => {
    // No DHCP here: tokens are not bound to an address (test/security/boot-side.test.ts binds them).
    // cloud-init's own schema check of operator user-data, as `serve` runs it where cloud-init is installed.
    appliance = await testAppliance({ userDataChecker: cloudInitSchemaChecker('cloud-init', true) });
    ({ store, service } = appliance);
    api = appliance.apiApp!;
    boot = appliance.bootApp!;
  });

  afterEach(async () => {
    await appliance.dispose();
  });


  const commissioning = async () => {
    const { machine } = store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs));
    return service.act(machine.id, { type: 'commission' });
  };
  const seed = (machineToken: string, doc: string) => boot.inject({ method: 'GET', url: `/cloud-init/${machineToken}/${doc}` });
  const timeline = (id: string) => store.events.forMachine(id).filter((e) => e.type === 'cloud-init').map((e) => e.detail);
  const putUserData = (id: string, body: string) =>
    api.inject({ method: 'PUT', url: `/api/v1/machines/${id}/user-data`, headers: { ...auth, 'content-type': 'text/plain' }, payload: body });

  test('the seed serves each document of the machine the token names, and records the fetches', async () => {
    const machine = await commissioning();
    const meta = await seed(machine.token!, 'meta-data');
    expect(meta.statusCode).toBe(200);
    expect(meta.body).toContain(`instance-id: ${machine.id}-commissioning-${machine.runId}`);
    for (const doc of ['user-data', 'vendor-data', 'network-config', 'cloud-config']) expect((await seed(machine.token!, doc)).statusCode).toBe(200);
    // HEAD answers without a timeline entry.
    expect((await boot.inject({ method: 'HEAD', url: `/cloud-init/${machine.token}/meta-data` })).statusCode).toBe(200);
    expect(timeline(machine.id)).toEqual(['fetched meta-data', 'fetched user-data', 'fetched vendor-data', 'fetched network-config', 'fetched cloud-config']);
    // "//" from a seed URL built by concatenation still works.
    expect((await boot.inject({ method: 'GET', url: `/cloud-init/${machine.token}//meta-data` })).statusCode).toBe(200);
  });

  test('401 for an unknown or rotated token, 409 outside a phase, 400 for an unknown document', async () => {
    const machine = await commissioning();
    expect((await seed('x'.repeat(32), 'meta-data')).statusCode).toBe(401);
    expect((await seed(machine.token!, 'passwd')).statusCode).toBe(400);
    const old = machine.token!;
    const aborted = service.act(machine.id, { type: 'abort' });
    const outside = await seed(old, 'user-data');
    if (aborted.token === old) {
      expect(outside.statusCode).toBe(409);
      expect(outside.json().message).toMatch(new RegExp(`is ${aborted.state}: it has no cloud-init environment running`));
    } else {
      expect(outside.statusCode).toBe(401);
    }
    const again = service.act(machine.id, { type: 'commission' });
    expect(again.token).not.toBe(old);
    const stale = await seed(old, 'user-data');
    expect(stale.statusCode).toBe(401);
    expect(stale.json().message).toMatch(/rotate/);
    expect((await seed(again.token!, 'user-data')).statusCode).toBe(200);
  });

  test('webhook reporting: stage events and failed steps go on the timeline, bad bodies get 400', async () => {
    const machine = await commissioning();
    const post = (payload: string, headers: Record<string, string> = {}) =>
      boot.inject({ method: 'POST', url: `/cloud-init/${machine.token}/events`, payload, headers });
    const event = (name: string, type: string, result?: string, description = 'x') =>
      JSON.stringify({ name, event_type: type, origin: 'cloudinit', timestamp: 1.5, description, ...(result ? { result } : {}) });
    // cloud-init 22.4's webhook reporter sends no Content-Type.
    expect((await post(event('init-local', 'start'))).statusCode).toBe(204);
    expect((await post(event('init-local/check-cache', 'finish', 'SUCCESS'))).statusCode).toBe(204);
    expect((await post(event('init-local', 'finish', 'SUCCESS'), { 'content-type': 'application/json' })).statusCode).toBe(204);
    expect((await post(event('modules-final/config-scripts-user', 'finish', 'FAIL', 'running config-scripts-user with frequency once-per-instance'))).statusCode).toBe(204);
    expect((await post('not json')).statusCode).toBe(400);
    expect((await post(JSON.stringify({ name: 'x' }))).statusCode).toBe(400);
    const phone = await boot.inject({
      method: 'POST', url: `/cloud-init/${machine.token}/phone-home`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'instance_id=abc-commissioning-1&hostname=n1',
    });
    expect(phone.statusCode).toBe(204);
    expect(timeline(machine.id)).toEqual([
      'init-local start', 'init-local finish SUCCESS',
      'modules-final/config-scripts-user finish FAIL: running config-scripts-user with frequency once-per-instance',
      'finished (instance abc-commissioning-1)',
    ]);
  });

  test('operator user-data: checked by cloud-init schema, merged into the next seed, invalid ones change nothing', async () => {
    const machine = await commissioning();
    const first = await seed(machine.token!, 'user-data');
    expect(pythonMimeParts(first.body).map((p) => p.filename)).toEqual(['zz-netboot-runner.sh', 'netboot.cfg']);

    const ok = await putUserData(machine.id, '#cloud-config\nruncmd:\n  - echo hello\n');
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ kind: 'cloud-config', schemaChecked: true });
    // The cached document was dropped: the next fetch carries the operator's part.
    const merged = await seed(machine.token!, 'user-data');
    expect(pythonMimeParts(merged.body).map((p) => p.filename)).toEqual(['operator.cfg', 'zz-netboot-runner.sh', 'netboot.cfg']);

    const badYaml = await putUserData(machine.id, '#cloud-config\nruncmd: [unclosed\n');
    expect(badYaml.statusCode).toBe(400);
    expect(badYaml.json().message).toMatch(/not valid YAML: .* at line \d+/);
    const badSchema = await putUserData(machine.id, '#cloud-config\nruncmd: 5\n');
    expect(badSchema.statusCode).toBe(400);
    expect(badSchema.json().message).toMatch(/fails cloud-init's schema: runcmd: 5 is not of type 'array'/);
    const badFormat = await putUserData(machine.id, '#include http://example.invalid/x\n');
    expect(badFormat.statusCode).toBe(400);
    expect(badFormat.json().message).toMatch(/must start with "#cloud-config" or a "#!" script line/);
    const stored = await api.inject({ method: 'GET', url: `/api/v1/machines/${machine.id}/user-data`, headers: auth });
    expect(stored.body).toBe('#cloud-config\nruncmd:\n  - echo hello\n');

    // The CLI sends the text as a JSON string.
    const asJson = await api.inject({ method: 'PUT', url: `/api/v1/machines/${machine.id}/user-data`, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify('#cloud-config\nhostname: x\n') });
    expect(asJson.statusCode, asJson.body).toBe(200);
    const script = await putUserData(machine.id, '#!/bin/sh\necho hi\n');
    expect(script.json()).toMatchObject({ kind: 'script', schemaChecked: false });
    expect((await api.inject({ method: 'DELETE', url: `/api/v1/machines/${machine.id}/user-data`, headers: auth })).json()).toMatchObject({ kind: 'none' });
    expect(store.machines.get(machine.id)!.userData).toBe('');
    expect((await api.inject({ method: 'PUT', url: `/api/v1/machines/${machine.id}/user-data`, payload: 'x' })).statusCode).toBe(401);
  });

  test('a locked machine refuses new user-data (409) and keeps its old one', async () => {
    const machine = await commissioning();
    expect((await putUserData(machine.id, '#cloud-config\nhostname: a\n')).statusCode).toBe(200);
    service.update(machine.id, { locked: true });
    const refused = await putUserData(machine.id, '#cloud-config\nhostname: b\n');
    expect(refused.statusCode).toBe(409);
    expect(store.machines.get(machine.id)!.userData).toBe('#cloud-config\nhostname: a\n');
  });

  test('documents are rendered once per machine version and served from the cache', async () => {
    const machine = await commissioning();
    await seed(machine.token!, 'meta-data');
    await seed(machine.token!, 'meta-data');
    expect(appliance.renderCache.stats()).toMatchObject({ hits: 1, misses: 1 });
  });
});
