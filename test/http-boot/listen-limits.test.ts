// Bounds on the boot listener, on real loopback sockets (security probe F6): a trickled body is cut
// within the request bound, and connections beyond the cap are closed as they arrive.
import { afterEach, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildBootApp } from '../../src/http-boot/index.js';
import { isLoopback, listenHttp, type HttpLimits } from '../../src/http-listen.js';
import { silentLog } from '../support/fixtures.js';
import { BootAuth } from '../../src/machines/boot-auth.js';

const apps: FastifyInstance[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function bootListener(options: { limits?: HttpLimits; maxConnections?: number }): Promise<number> {
  const app = buildBootApp({
    booter: { boot: () => null } as never, files: { fileById: () => undefined }, events: { record: () => undefined }, loaders: {},
    auth: new BootAuth({ machines: { byToken: () => undefined, byMac: () => undefined }, events: { record: () => undefined } }), publicUrl: 'http://127.0.0.1', log: silentLog, ...(options.limits ? { limits: options.limits } : {}),
  });
  app.post('/upload', async (request) => ({ bytes: JSON.stringify(request.body).length }));
  apps.push(app);
  const { port } = await listenHttp(app, { name: 'boot HTTP listener', hostKey: 'http.host', portKey: 'http.port', host: '127.0.0.1', port: 0, ...options });
  return port;
}

/** Connects; resolves with what the server sent once it closed the connection (or 'open' at the deadline). */
function connection(port: number, deadlineMs: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  let received = '';
  socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
  const closed = new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('open'), deadlineMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
  return { socket, closed };
}

test('a body trickled one byte at a time is cut within the request bound', async () => {
  const port = await bootListener({ limits: { requestTimeoutMs: 500, connectionTimeoutMs: 10_000 } });
  const { socket, closed } = connection(port, 5000);
  socket.write('POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n');
  const trickle = setInterval(() => socket.write(' '), 100); // never idle: only the request bound applies
  const started = Date.now();
  const answer = await closed;
  clearInterval(trickle);
  expect(answer).not.toBe('open');
  expect(Date.now() - started).toBeLessThan(2000);
  if (answer !== '') expect(answer).toMatch(/^HTTP\/1.1 408/);
});

test('connections beyond maxConnections are closed as they arrive; those held still get answers', async () => {
  const port = await bootListener({ maxConnections: 2 });
  const held = [connection(port, 10_000), connection(port, 10_000)];
  await Promise.all(held.map(({ socket }) => new Promise((resolve) => socket.once('connect', resolve))));
  await new Promise((resolve) => setTimeout(resolve, 100)); // the server has accepted both
  const third = connection(port, 3000);
  expect(await third.closed).toBe(''); // closed without a byte
  const first = held[0]!;
  const answered = new Promise<string>((resolve) => first.socket.once('data', (chunk) => resolve(chunk.toString('latin1'))));
  first.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
  expect(await answered).toMatch(/^HTTP\/1.1 200/);
});

test.each([
  ['127.0.0.1', true], ['127.1.2.3', true], ['::1', true], ['localhost', true], ['::ffff:127.0.0.1', true],
  ['0.0.0.0', false], ['::', false], ['10.213.0.1', false], ['1270.0.0.1', false],
])('isLoopback(%s) is %s: the API warns at start when it is not', (host, want) => {
  expect(isLoopback(host)).toBe(want);
});
