// Request logs carry no credentials (probe F12): a run's token in a cloud-init seed URL, a token in
// a query string, and the operator's Authorization header never reach the log, on either app.
import { afterEach, expect, test } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../src/api/index.js';
import { buildBootApp } from '../../src/http-boot/index.js';
import { redactUrl } from '../../src/http-log.js';
import { MachineService } from '../../src/machines/service.js';
import { Tagging } from '../../src/machines/tagging.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/fixtures.js';
import { plainDeployments } from '../support/appliance.js';
import { BootAuth } from '../../src/machines/boot-auth.js';
import { Catalogue } from '../../src/machines/catalogue.js';

const runToken = 'RunTokenAbcdefgh0123456789';
const operatorToken = 'operator-token-for-tests-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function capture(): { log: pino.Logger; text: () => string } {
  const lines: string[] = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }), text: () => lines.join('') };
}

test.each([
  ['/cloud-init/RunTokenAbcdefgh0123456789/user-data', '/cloud-init/<redacted>/user-data'],
  ['//cloud-init/RunTokenAbcdefgh0123456789/', '//cloud-init/<redacted>/'],
  ['/cloud-init//RunTokenAbcdefgh0123456789//meta-data', '/cloud-init//<redacted>//meta-data'],
  ['/api/v1/machines?state=New&token=abc&x=1', '/api/v1/machines?state=New&token=<redacted>&x=1'],
  ['/boot/52:54:00:12:34:56.ipxe', '/boot/52:54:00:12:34:56.ipxe'],
])('redactUrl(%s)', (url, want) => {
  expect(redactUrl(url)).toBe(want);
});

test('the boot side logs a cloud-init seed URL without its token', async () => {
  const { log, text } = capture();
  const app = buildBootApp({
    booter: { boot: () => null } as never, files: { fileById: () => undefined }, events: { record: () => undefined }, loaders: {},
    auth: new BootAuth({ machines: { byToken: () => undefined, byMac: () => undefined }, events: { record: () => undefined } }), publicUrl: 'http://127.0.0.1', log,
  });
  cleanups.push(() => app.close());
  await app.inject({ url: `/cloud-init/${runToken}/user-data`, headers: { authorization: `Bearer ${runToken}` } });
  expect(text()).toContain('/cloud-init/<redacted>/user-data');
  expect(text()).not.toContain(runToken);
});

test('the operator API logs neither the Authorization header nor a token in the query', async () => {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const store: Store = openStore(join(dir.path, 'data'));
  cleanups.push(() => store.close());
  const service = new MachineService({
    store, log: pino({ level: 'silent' }), builtinScripts: [],
    powerDriver: (settings) => createPowerDriver(parsePowerSettings(settings)),
    timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
  });
  cleanups.push(() => service.close());
  const { log, text } = capture();
  const api: FastifyInstance = await buildApiApp({ store, service, tagging: new Tagging(store), catalogue: new Catalogue(store, service.scripts), token: operatorToken, log, deployments: plainDeployments(service, store) });
  cleanups.push(() => api.close());
  const listed = await api.inject({ url: '/api/v1/machines', headers: { authorization: `Bearer ${operatorToken}` } });
  expect(listed.statusCode).toBe(200);
  await api.inject({ url: `/api/v1/machines?token=${operatorToken}` });
  expect(text()).toContain('incoming request');
  expect(text()).toContain('token=<redacted>');
  expect(text()).not.toContain(operatorToken);
});
