// The seed and the cloud-init callbacks through inject(), on a real SQLite store; and the operator's
// user-data API with cloud-init's real schema check.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../src/api/index.js';
import { cloudInitRoutes, cloudInitSchemaChecker, RenderCache } from '../../src/cloud-init/index.js';
import { buildBootApp } from '../../src/http-boot/index.js';
import { LifecycleBooter } from '../../src/machines/booter.js';
import { MachineService } from '../../src/machines/service.js';
import { BootAuth } from '../../src/machines/boot-auth.js';
import { Tagging } from '../../src/machines/tagging.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sampleInventory, silentLog, tempDir } from '../support/fixtures.js';
import { pythonMimeParts } from './support.js';
import { Catalogue } from '../../src/machines/catalogue.js';

const token = 'operator-token-for-tests-0123456789';
const auth = { authorization: `Bearer ${token}` };
const publicUrl = 'http://10.213.0.1';

describe('cloud-init seed, callbacks and operator user-data', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let service: MachineService;
  let cache: RenderCache;
  let api: FastifyInstance;
  let boot: FastifyInstance;

  beforeEach(async () => {
    dir = tempDir();
    store = openStore(join(dir.path, 'data'));
    service = new MachineService({
      store, log: silentLog, builtinScripts: [],
      powerDriver: (settings) => createPowerDriver(parsePowerSettings(settings)),
      timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
    });
    cache = new RenderCache();
    // No DHCP here: tokens are not bound to an address (test/security/boot-side.test.ts binds them).
    const auth = new BootAuth({ machines: store.machines, events: store.events });
    api = await buildApiApp({
      store, service, tagging: new Tagging(store), catalogue: new Catalogue(store, service.scripts), token, log: silentLog,
      userData: { checker: cloudInitSchemaChecker('cloud-init', true), cache },
    });
    const images = { get: () => ({ files: { kernel: { id: 'k'.repeat(64) }, initrd: { id: 'i'.repeat(64) } } }) };
    boot = buildBootApp({
      booter: new LifecycleBooter({ publicUrl, enlistImage: 'micro', images, machines: store.machines }),
      files: { fileById: () => undefined }, events: store.events, publicUrl, log: silentLog, auth, loaders: {},
    });
    boot.register(cloudInitRoutes, { auth, events: store.events, cache, publicUrl, sshKeys: [] });
    await Promise.all([api.ready(), boot.ready()]);
  });

  afterEach(async () => {
    await service.close();
    cache.close();
    await Promise.all([api.close(), boot.close()]);
    await store.close();
    dir.cleanup();
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
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
  });
});
