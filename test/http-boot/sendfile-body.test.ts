// Boot file bodies by sendfile(2) (src/http-boot/sendfile-body.ts) on a real loopback listener:
// octet for octet what send's stream gives (whole file, ranges, a client that stalls the socket),
// HEAD, 304 and If-Range untouched, an abort recorded and closed, and inject() (no socket fd) and an
// empty file still answered by send's stream.
import { afterAll, afterEach, beforeAll, beforeEach, expect, test, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { get, request, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PromMetrics } from '../../src/api/index.js';
import { buildBootApp, type ServedFile } from '../../src/http-boot/index.js';
import { sendfileUnavailable } from '../../src/http-boot/sendfile-body.js';
import type { MachineEventInput } from '../../src/machines/boot.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { getThenLeave, openFds } from '../support/http-client.js';

const mac = '52:54:00:12:34:56';
/** Larger than a loopback socket's send buffer (at most 4 MiB), so sendfile meets EAGAIN. */
const size = 24 * 1024 * 1024 + 12_345;
const content = randomBytes(size);

let dir: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let port: number;
let events: MachineEventInput[];
let files: Map<string, ServedFile>;
let id: string;
/** Octets of response bodies that went through Node's ServerResponse.write (not sendfile). */
let throughNode = 0;

function addFile(role: ServedFile['role'], bytes: Buffer): string {
  const fileId = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir.path, fileId), bytes);
  files.set(fileId, { id: fileId, role, path: join(dir.path, fileId) });
  return fileId;
}

beforeAll(() => {
  const write = ServerResponse.prototype.write;
  vi.spyOn(ServerResponse.prototype, 'write').mockImplementation(function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (Buffer.isBuffer(chunk)) throughNode += chunk.length;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  });
});
afterAll(() => vi.restoreAllMocks());

beforeEach(async () => {
  dir = tempDir();
  files = new Map();
  id = addFile('initrd', content);
  events = [];
  throughNode = 0;
  app = buildBootApp({
    booter: { bootSpec: async () => null }, files: { fileById: (wanted) => files.get(wanted) },
    events: { record: (event) => events.push(event) }, metrics: new PromMetrics(false), publicUrl: 'http://127.0.0.1', log: silentLog,
    loaders: {}, auth: { binding: true, macOf: () => mac, mayUseToken: () => true },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterEach(async () => {
  await app.close();
  dir.cleanup();
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** A request on its own connection, the body read whole; `stallMs` pauses reading now and then. */
function fetchAll(path: string, headers: Record<string, string> = {}, method = 'GET', stallMs = 0): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers, method, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      let stalls = 0;
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (stallMs > 0 && stalls < 5 && chunks.length % 50 === 0) {
          stalls++;
          response.pause();
          setTimeout(() => response.resume(), stallMs);
        }
      });
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    }).on('error', reject).end();
  });
}

test('the addon is loaded where it is built (npm run build), so these tests take the sendfile path', () => {
  if (existsSync(join(import.meta.dirname, '../../build/Release/sendfile.node'))) expect(sendfileUnavailable()).toBeUndefined();
});

test('a whole file: every octet, in order, and nearly none of them through Node', async () => {
  const answer = await fetchAll(`/files/${id}`);
  expect(answer.status).toBe(200);
  expect(answer.headers['content-length']).toBe(String(size));
  expect(answer.body.equals(content)).toBe(true);
  if (!sendfileUnavailable()) expect(throughNode).toBeLessThan(size / 4);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]!.data).toMatchObject({ bytes: size, outcome: 'completed', status: 200 });
});

test('a client that stops reading now and then (sendfile meets EAGAIN, the waiter waits for room) gets the same octets', async () => {
  const answer = await fetchAll(`/files/${id}`, {}, 'GET', 30);
  expect(answer.body.equals(content)).toBe(true);
  // The waiter, not a chunk through Node, waited out every stall.
  if (!sendfileUnavailable()) expect(throughNode).toBe(0);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]!.data).toMatchObject({ bytes: size, outcome: 'completed' });
});

/** The app again, with a short idle timeout (fastify connectionTimeout) of 400 ms. */
async function restartWithIdleTimeout(): Promise<void> {
  await app.close();
  app = buildBootApp({
    booter: { bootSpec: async () => null }, files: { fileById: (wanted) => files.get(wanted) },
    events: { record: (event) => events.push(event) }, metrics: new PromMetrics(false), publicUrl: 'http://127.0.0.1', log: silentLog,
    loaders: {}, auth: { binding: true, macOf: () => mac, mayUseToken: () => true },
    limits: { requestTimeoutMs: 2000, connectionTimeoutMs: 400 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
}

// The idle timeout counts Node's reads and writes, and no octet of the body is Node's write:
// sendfile-body.ts re-arms it whenever the client has taken octets (keepAlive).
test('a download longer in all than the idle timeout, with stalls shorter than it, is not cut', async () => {
  await restartWithIdleTimeout();
  const started = Date.now();
  const answer = await fetchAll(`/files/${id}`, {}, 'GET', 250);
  expect(Date.now() - started).toBeGreaterThan(400);
  expect(answer.body.equals(content)).toBe(true);
});

// RFC 9110 §14.1.2 (byte ranges: first-last, first-, -suffix) and §14.4 (Content-Range): send
// decides them; the body must be exactly the range it chose.
test.each([
  ['bytes=0-0', 0, 0],
  ['bytes=1000-5000000', 1000, 5_000_000],
  [`bytes=${size - 70_000}-`, size - 70_000, size - 1],
  ['bytes=-12345', size - 12_345, size - 1],
])('Range %s: 206, its Content-Range and exactly its octets', async (range, first, last) => {
  const answer = await fetchAll(`/files/${id}`, { range });
  expect(answer.status).toBe(206);
  expect(answer.headers['content-range']).toBe(`bytes ${first}-${last}/${size}`);
  expect(answer.body.equals(content.subarray(first, last + 1))).toBe(true);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]!.data).toMatchObject({ bytes: last - first + 1, outcome: 'completed', status: 206 });
});

test('HEAD: the length and no body; If-None-Match: 304 and no body (RFC 9110 §9.3.2, §13.1.2)', async () => {
  const head = await fetchAll(`/files/${id}`, {}, 'HEAD');
  expect(head).toMatchObject({ status: 200, body: Buffer.alloc(0) });
  expect(head.headers['content-length']).toBe(String(size));
  const etag = String(head.headers.etag);
  const notModified = await fetchAll(`/files/${id}`, { 'if-none-match': etag });
  expect(notModified).toMatchObject({ status: 304, body: Buffer.alloc(0) });
  // If-Range with a current validator keeps the range; a stale one gets the whole file (§13.1.5).
  const current = await fetchAll(`/files/${id}`, { range: 'bytes=10-19', 'if-range': etag });
  expect(current.status).toBe(206);
  expect(current.body.equals(content.subarray(10, 20))).toBe(true);
  const stale = await fetchAll(`/files/${id}`, { range: 'bytes=10-19', 'if-range': '"stale"' });
  expect(stale.status).toBe(200);
  expect(stale.body.equals(content)).toBe(true);
});

test('a client that goes away mid-file: recorded as aborted, and no file descriptor stays open', async () => {
  const before = openFds();
  for (let i = 0; i < 30; i++) await getThenLeave(port, `/files/${id}`, 256 * 1024);
  await expect.poll(() => events.length).toBe(30);
  for (const event of events) {
    expect(event.data).toMatchObject({ outcome: 'aborted', status: 200 });
    expect(event.data!.bytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(event.data!.bytes).toBeLessThan(size);
  }
  await expect.poll(openFds).toBeLessThanOrEqual(before);
});

test('a client that stops reading for good is closed by the idle timeout: aborted, and the waiter\'s dup closed', async () => {
  await restartWithIdleTimeout();
  const before = openFds();
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('data', () => socket.pause());
  socket.on('error', () => undefined);
  socket.write(`GET /files/${id} HTTP/1.1\r\nhost: x\r\n\r\n`);
  await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
  expect(events[0]!.data).toMatchObject({ outcome: 'aborted' });
  // Reading again, the client finds the connection closed (the dup would have held it open).
  socket.resume();
  await closed;
  await expect.poll(openFds).toBeLessThanOrEqual(before);
});

test('keep-alive: two downloads in a row on one connection, each whole', async () => {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ask = `GET /files/${id} HTTP/1.1\r\nhost: x\r\nrange: bytes=100-4999999\r\n\r\n`;
  socket.write(ask + ask);
  const length = 4_999_900;
  await expect.poll(() => chunks.reduce((n, c) => n + c.length, 0), { timeout: 10_000 }).toBeGreaterThan(2 * length);
  socket.destroy();
  const all = Buffer.concat(chunks);
  const second = all.indexOf('HTTP/1.1 206', 1);
  const bodyOf = (answer: Buffer): Buffer => answer.subarray(answer.indexOf('\r\n\r\n') + 4);
  expect(bodyOf(all.subarray(0, second)).equals(content.subarray(100, 5_000_000))).toBe(true);
  expect(bodyOf(all.subarray(second)).equals(content.subarray(100, 5_000_000))).toBe(true);
});

// TCP_CORK holds short segments for up to 200 ms (tcp(7)): left on after a body, every small answer
// on the kept-alive connection would wait that long.
test('keep-alive: after a file, small answers on the same connection are not held by the cork', async () => {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
  const answers = (): number => received.split('HTTP/1.1 200').length - 1;
  socket.write(`GET /files/${id} HTTP/1.1\r\nhost: x\r\nrange: bytes=0-999999\r\n\r\n`);
  await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(1_000_000);
  const times: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const started = Date.now();
    socket.write(`HEAD /files/${id} HTTP/1.1\r\nhost: x\r\n\r\n`);
    await expect.poll(answers, { interval: 2, timeout: 5000 }).toBe(i);
    times.push(Date.now() - started);
  }
  socket.destroy();
  expect(times.sort((x, y) => x - y)[2]).toBeLessThan(150);
});

test('inject() has no socket to sendfile to: send\'s stream answers, range and all', async () => {
  const answer = await app.inject({ method: 'GET', url: `/files/${id}`, headers: { range: 'bytes=5-70004' } });
  expect(answer.statusCode).toBe(206);
  expect(answer.rawPayload.equals(content.subarray(5, 70_005))).toBe(true);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]!.data).toMatchObject({ bytes: 70_000, outcome: 'completed' });
});

test('an empty file (send asks its stream for one octet) is answered by the stream: 200, no body', async () => {
  const empty = addFile('kernel', Buffer.alloc(0));
  const answer = await new Promise<Answer>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: `/files/${empty}` }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  expect(answer).toMatchObject({ status: 200, body: Buffer.alloc(0) });
  expect(answer.headers['content-length']).toBe('0');
});
