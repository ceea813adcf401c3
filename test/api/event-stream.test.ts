// The live timeline (SSE) on a real loopback listener: an open stream does not hold up close, and a
// watcher that stops reading is dropped within the configured bounds (probe F5, review item 10).
import { afterEach, beforeEach, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApiApp } from '../../src/api/index.js';
import type { StreamLimits } from '../../src/api/event-routes.js';
import { MachineService } from '../../src/machines/service.js';
import { Tagging } from '../../src/machines/tagging.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';
import { plainDeployments } from '../support/appliance.js';
import { Catalogue } from '../../src/machines/catalogue.js';

const token = 'operator-token-for-tests-0123456789';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let service: MachineService;
let api: FastifyInstance | undefined;
const sockets: Socket[] = [];
const logLines: string[] = [];

beforeEach(() => {
  dir = tempDir();
  store = openStore(join(dir.path, 'data'));
  service = new MachineService({
    store, log: pino({ level: 'silent' }), builtinScripts: [],
    powerDriver: (settings) => createPowerDriver(parsePowerSettings(settings)),
    timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
  });
  logLines.length = 0;
});

afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await service.close();
  await api?.close();
  api = undefined;
  await store.close();
  dir.cleanup();
});

async function listening(streamLimits?: StreamLimits): Promise<{ port: number; machineId: string }> {
  const log = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });
  api = await buildApiApp({ store, service, tagging: new Tagging(store), catalogue: new Catalogue(store, service.scripts), token, log, deployments: plainDeployments(service, store), ...(streamLimits ? { streamLimits } : {}) });
  await api.listen({ host: '127.0.0.1', port: 0 });
  const { machine } = store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs));
  return { port: (api.server.address() as { port: number }).port, machineId: machine.id };
}

/** A raw watcher; resolves once the response head has arrived. */
function watch(port: number, machineId: string): Promise<{ socket: Socket; received: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    const ended = new Promise<void>((done) => socket.once('end', done));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      const first = text === '';
      text += chunk.toString('latin1');
      if (first) resolve({ socket, received: () => text, ended });
    });
    socket.once('close', () => reject(new Error('closed before the response head')));
    socket.write(`GET /api/v1/machines/${machineId}/events/stream HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`);
  });
}

test('an open stream does not keep app.close() from resolving; the watcher sees a clean end', async () => {
  const { port, machineId } = await listening();
  const watcher = await watch(port, machineId);
  expect(watcher.received()).toMatch(/^HTTP\/1.1 200/);
  const closed = api!.close().then(() => 'closed');
  const late = new Promise((resolve) => setTimeout(resolve, 5000, 'still open after 5 s'));
  expect(await Promise.race([closed, late])).toBe('closed');
  api = undefined;
  await watcher.ended;
  expect(watcher.received()).toMatch(/\r\n0\r\n\r\n$/); // the chunked terminator: an end, not a cut
});

test.each([
  { name: 'un-drained past the time bound', limits: { drainTimeoutMs: 300, maxBufferedBytes: 1024 ** 3 } },
  { name: 'over the byte bound', limits: { drainTimeoutMs: 600_000, maxBufferedBytes: 1024 * 1024 } },
])('a watcher that stops reading is dropped: $name', async ({ limits }) => {
  const { port, machineId } = await listening(limits);
  const watcher = await watch(port, machineId);
  watcher.socket.pause();
  // ~24 MB of events: more than the loopback socket buffers of both ends hold.
  const detail = 'x'.repeat(100_000);
  for (let i = 0; i < 240; i++) store.events.record({ mac: sampleInventory().bootMac, type: 'cloud-init', detail });
  store.events.flush();
  const deadline = Date.now() + 10_000;
  let connections = 1;
  while (connections > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    connections = await new Promise<number>((resolve) => api!.server.getConnections((_e, n) => resolve(n)));
  }
  expect(connections).toBe(0);
  expect(logLines.join('')).toMatch(/event stream dropped: the watcher is not reading/);
});
