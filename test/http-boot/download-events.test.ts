// Boot file downloads go on the timeline when their response ends (code review 2026-12 item 9), on a
// real loopback listener: a full GET, a Range GET, and one the client walks away from.
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { get, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PromMetrics } from '../../src/api/index.js';
import { buildBootApp, type ServedFile } from '../../src/http-boot/index.js';
import type { MachineEventInput } from '../../src/machines/boot.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { getThenLeave, openFds } from '../support/http-client.js';
import { metricValue } from '../support/metrics.js';

const mac = '52:54:00:12:34:56';
const small = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
/**
 * More than the loopback socket buffers of both ends can hold (tcp_wmem and tcp_rmem at most 4 and
 * 32 MiB here), so a client that stops reading stalls the send.
 */
const largeSize = 48 * 1024 * 1024;

let dir: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let port: number;
let events: MachineEventInput[];
let metrics: PromMetrics;
let files: Map<string, ServedFile>;
const ids = { kernel: '' };

function addFile(role: ServedFile['role'], bytes: Buffer): string {
  const id = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir.path, role), bytes);
  files.set(id, { id, role, path: join(dir.path, role) });
  return id;
}

beforeEach(async () => {
  dir = tempDir();
  files = new Map();
  ids.kernel = addFile('kernel', small);
  events = [];
  metrics = new PromMetrics(false);
  app = buildBootApp({
    booter: { bootSpec: async () => null }, files: { fileById: (id) => files.get(id) },
    events: { record: (event) => events.push(event) }, metrics, publicUrl: 'http://127.0.0.1', log: silentLog,
    loaders: { 'ipxe.efi': join(dir.path, 'kernel') },
    auth: { binding: true, macOf: () => mac, mayUseToken: () => true },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterEach(async () => {
  await app.close();
  dir.cleanup();
});

/** GETs a path and reads the whole body. */
function fetchAll(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

test('a full GET: recorded at its end with the octets sent, the time taken and the start', async () => {
  const before = Date.now();
  const { status, body } = await fetchAll(`/files/${ids.kernel}`);
  expect(status).toBe(200);
  expect(body.equals(small)).toBe(true);
  await expect.poll(() => events.length).toBe(1);
  const [event] = events;
  expect(event).toMatchObject({ mac, type: 'kernel', detail: '', data: { bytes: small.length, outcome: 'completed', status: 200 } });
  expect(event!.data!.start).toBeGreaterThanOrEqual(before);
  expect(event!.data!.ms).toBeGreaterThanOrEqual(0);
  const text = (await metrics.exposition()).text;
  expect(metricValue(text, 'netboot_http_download_bytes_total', { role: 'kernel', outcome: 'completed' })).toBe(small.length);
  expect(metricValue(text, 'netboot_http_requests_total', { route: '/files/:id', method: 'GET', status: '200' })).toBe(1);
});

test('a Range GET: the range as parsed, and only its octets', async () => {
  const { status, body } = await fetchAll(`/files/${ids.kernel}`, { range: 'bytes=6-15' });
  expect(status).toBe(206);
  expect(body.equals(small.subarray(6, 16))).toBe(true);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]).toMatchObject({
    type: 'kernel', detail: 'range 6-15', data: { bytes: 10, rangeFirst: 6, rangeLast: 15, ranges: 1, outcome: 'completed', status: 206 },
  });
});

test('a loader GET is recorded the same way', async () => {
  await fetchAll('/loaders/ipxe.efi');
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]).toMatchObject({ type: 'file', detail: 'loader ipxe.efi', data: { loader: 'ipxe.efi', bytes: small.length, outcome: 'completed' } });
});

test('a download the client walks away from: aborted, with fewer octets than the file', async () => {
  const initrd = addFile('initrd', Buffer.alloc(largeSize, 7));
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let received = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < 1024 * 1024) return;
      socket.pause(); // stops reading: the server's writes back up
      resolve();
    });
    socket.write(`GET /files/${initrd} HTTP/1.1\r\nhost: x\r\nrange: bytes=0-\r\n\r\n`);
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(events).toEqual([]); // not ended yet: nothing recorded
  socket.destroy();
  await expect.poll(() => events.length).toBe(1);
  const data = events[0]!.data!;
  expect(events[0]).toMatchObject({ type: 'initrd', detail: 'range 0- (aborted)', data: { outcome: 'aborted', rangeFirst: 0, ranges: 1, status: 206 } });
  expect(data.bytes).toBeGreaterThanOrEqual(1024 * 1024);
  expect(data.bytes).toBeLessThan(largeSize);
  expect('rangeLast' in data).toBe(false);
  const text = (await metrics.exposition()).text;
  expect(metricValue(text, 'netboot_http_downloads_total', { role: 'initrd', outcome: 'aborted' })).toBe(1);
});

// The octets are counted without touching the body on its way (issue #15): from the file's read
// stream, all of it for a completed download, what it handed on for an aborted one.
test('the metric counts the body octets only: a whole file, a range, and nothing for HEAD', async () => {
  await fetchAll(`/files/${ids.kernel}`);
  await fetchAll(`/files/${ids.kernel}`, { range: 'bytes=-1000' });
  const head = await new Promise<{ status: number; length: string | undefined }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: `/files/${ids.kernel}`, method: 'HEAD' }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, length: response.headers['content-length'] }));
    }).on('error', reject).end();
  });
  expect(head).toEqual({ status: 200, length: String(small.length) });
  await expect.poll(() => events.length).toBe(2);
  expect(events.map((e) => e.data!.bytes)).toEqual([small.length, 1000]);
  const text = (await metrics.exposition()).text;
  expect(metricValue(text, 'netboot_http_download_bytes_total', { role: 'kernel', outcome: 'completed' })).toBe(small.length + 1000);
  expect(metricValue(text, 'netboot_http_downloads_total', { role: 'kernel', outcome: 'completed' })).toBe(2);
});

test('a GET answered 304 (If-None-Match) is recorded with no octets', async () => {
  const { etag } = (await app.inject({ method: 'HEAD', url: `/files/${ids.kernel}` })).headers;
  const { status, body } = await fetchAll(`/files/${ids.kernel}`, { 'if-none-match': String(etag) });
  expect(status).toBe(304);
  expect(body.length).toBe(0);
  await expect.poll(() => events.length).toBe(1);
  expect(events[0]).toMatchObject({ data: { bytes: 0, outcome: 'completed', status: 304 } });
});

test('aborted downloads: the octets handed on agree between timeline and metric, and no file stays open', async () => {
  const rootfs = addFile('rootfs', Buffer.alloc(largeSize, 3));
  const before = openFds();
  const count = 20;
  for (let i = 0; i < count; i++) await getThenLeave(port, `/files/${rootfs}`, 256 * 1024);
  await expect.poll(() => events.length).toBe(count);
  for (const event of events) {
    expect(event.data).toMatchObject({ outcome: 'aborted', status: 200 });
    expect(event.data!.bytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(event.data!.bytes).toBeLessThan(largeSize);
  }
  const sum = events.reduce((n, e) => n + Number(e.data!.bytes), 0);
  const text = (await metrics.exposition()).text;
  expect(metricValue(text, 'netboot_http_download_bytes_total', { role: 'rootfs', outcome: 'aborted' })).toBe(sum);
  await expect.poll(openFds).toBeLessThanOrEqual(before);
});
