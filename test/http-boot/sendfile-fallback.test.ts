// Without the sendfile addon (not built, or it does not load) a boot file's body is send's stream
// on a real connection: the same octets, Range included, and the same download event.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildBootApp } from '../../src/http-boot/index.js';
import { sendfileUnavailable } from '../../src/http-boot/sendfile-body.js';
import type { MachineEventInput } from '../../src/machines/boot.js';
import { silentLog, tempDir } from '../support/fixtures.js';

vi.mock('../../src/native-addon.js', () => ({ loadAddon: () => ({ why: 'the sendfile addon is not built (test)' }) }));

const content = randomBytes(6 * 1024 * 1024 + 7);
const id = createHash('sha256').update(content).digest('hex');
let dir: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let port: number;
let events: MachineEventInput[];

beforeEach(async () => {
  dir = tempDir();
  writeFileSync(join(dir.path, id), content);
  events = [];
  app = buildBootApp({
    booter: { bootSpec: async () => null },
    files: { fileById: (wanted) => (wanted === id ? { id, role: 'rootfs', path: join(dir.path, id) } : undefined) },
    events: { record: (event) => events.push(event) }, publicUrl: 'http://127.0.0.1', log: silentLog, loaders: {},
    auth: { binding: true, macOf: () => '52:54:00:12:34:56', mayUseToken: () => true },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterEach(async () => {
  await app.close();
  dir.cleanup();
});

function fetchAll(headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: `/files/${id}`, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

test('the addon missing: the whole file and a range by send\'s stream, recorded as before', async () => {
  expect(sendfileUnavailable()).toMatch(/not built/);
  const whole = await fetchAll({});
  expect(whole.status).toBe(200);
  expect(whole.body.equals(content)).toBe(true);
  const range = await fetchAll({ range: 'bytes=100-2000099' });
  expect(range.status).toBe(206);
  expect(range.body.equals(content.subarray(100, 2_000_100))).toBe(true);
  await expect.poll(() => events.length).toBe(2);
  expect(events.map((e) => e.data)).toMatchObject([{ bytes: content.length, outcome: 'completed' }, { bytes: 2_000_000, outcome: 'completed', status: 206 }]);
});
