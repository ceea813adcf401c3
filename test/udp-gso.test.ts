// UDP_SEGMENT sends on loopback: what the receiver gets must be exactly the datagrams handed over,
// in order, whichever way (GSO or dgram) each run went out.
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SegmentSender, gsoUnavailable, maxSegments, socketFd } from '../src/udp-gso.js';
import { tempDir } from './support/fixtures.js';

const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function pair(): Promise<{ sender: Socket; received: Buffer[] }> {
  const receiver = createSocket('udp4');
  const sender = createSocket('udp4');
  sockets.push(receiver, sender);
  const received: Buffer[] = [];
  receiver.on('message', (bytes) => received.push(bytes));
  await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => sender.connect(receiver.address().port, '127.0.0.1', resolve));
  return { sender, received };
}

/** `count` datagrams of `size` bytes (the last `lastSize`), each filled with its own index. */
function datagrams(count: number, size: number, lastSize = size): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(i === count - 1 ? lastSize : size, i % 256));
}

async function arrived(received: Buffer[], count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('the addon is built and a dgram socket exposes its fd (else every window falls back quietly)', async () => {
  expect(gsoUnavailable()).toBeUndefined();
  const { sender } = await pair();
  expect(socketFd(sender)).toBeGreaterThanOrEqual(0);
});

test('one sendmsg with UDP_SEGMENT: the kernel cuts it into the datagrams, shorter last one included', async () => {
  const { sender, received } = await pair();
  const addon = createRequire(import.meta.url)('../build/Release/udp_gso.node') as {
    sendSegments(fd: number, buffers: Buffer[], size: number): number;
  };
  const window = datagrams(5, 100, 37);
  expect(addon.sendSegments(socketFd(sender)!, window, 100)).toBe(437);
  await arrived(received, 5);
  expect(received).toEqual(window);
});

test('the addon refuses runs the kernel would cut wrongly, and sends nothing', async () => {
  const { sender, received } = await pair();
  const addon = createRequire(import.meta.url)('../build/Release/udp_gso.node') as {
    sendSegments(fd: number, buffers: unknown, size: number): number;
  };
  const fd = socketFd(sender)!;
  expect(() => addon.sendSegments(fd, datagrams(3, 100, 120), 100)).toThrow(/the last at most that/);
  expect(() => addon.sendSegments(fd, [Buffer.alloc(50), Buffer.alloc(100)], 100)).toThrow(/every datagram but the last/);
  expect(() => addon.sendSegments(fd, datagrams(65, 10), 10)).toThrow(/1 to 64 datagrams/);
  expect(() => addon.sendSegments(fd, ['text'], 10)).toThrow(/must be a Buffer/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(received).toEqual([]);
});

test.each([
  ['a TFTP window of 16 full blocks and a short last one', datagrams(17, 1472, 300)],
  ['more than 64 datagrams (UDP_MAX_SEGMENTS): several runs', datagrams(150, 100)],
  ['more than 64 KiB: runs cut at the IP packet limit', datagrams(60, 1472)],
  ['mixed sizes: a shorter datagram ends a run, a longer one starts the next', [
    ...datagrams(3, 200), Buffer.alloc(80, 0xaa), Buffer.alloc(300, 0xbb), ...datagrams(2, 300, 10), Buffer.alloc(5, 0xcc),
  ]],
  ['a single datagram', datagrams(1, 512)],
])('SegmentSender: %s arrive whole and in order', async (_name, window) => {
  const { sender, received } = await pair();
  const disabled: string[] = [];
  new SegmentSender(sender, (why) => disabled.push(why)).send(window);
  await arrived(received, window.length);
  expect(received.map((b) => b.length)).toEqual(window.map((b) => b.length));
  expect(Buffer.concat(received).equals(Buffer.concat(window))).toBe(true);
  expect(disabled).toEqual([]);
  expect(maxSegments).toBe(64);
});

// The fallback when the kernel refuses GSO, end to end: in a namespace of our own whose loopback has
// an MTU of 1200, a 1472-byte segment does not fit the route, sendmsg fails with EMSGSIZE, and the
// datagrams go out through dgram (as IP fragments) instead. Needs root (a network namespace) and
// the built dist/.
const distModule = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'udp-gso.js');
const fallbackSkip = process.getuid?.() !== 0 ? 'needs root for a network namespace'
  : !existsSync(distModule) ? `${distModule} is missing: npm run build` : undefined;

describe.skipIf(fallbackSkip !== undefined)(`when the kernel refuses GSO${fallbackSkip ? ` (skipped: ${fallbackSkip})` : ''}`, () => {
  const namespace = `nb-test-gso-${process.pid}`;
  const dir = tempDir('nb-gso-');
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
    dir.cleanup();
  });

  test('EMSGSIZE (segment larger than the path MTU): dgram sends them, one report per reason and process', () => {
    execFileSync('ip', ['netns', 'add', namespace]);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'mtu', '1200', 'up']);
    const script = join(dir.path, 'fallback.mjs');
    writeFileSync(script, `
      import { createSocket } from 'node:dgram';
      import { SegmentSender } from ${JSON.stringify(distModule)};
      const receiver = createSocket('udp4');
      const received = [];
      receiver.on('message', (bytes) => received.push(bytes));
      await new Promise((resolve) => receiver.bind(0, '127.0.0.1', resolve));
      const reports = [];
      const sent = [];
      for (let socketNo = 0; socketNo < 2; socketNo++) {
        const sender = createSocket('udp4');
        await new Promise((resolve) => sender.connect(receiver.address().port, '127.0.0.1', resolve));
        const window = Array.from({ length: 6 }, (_, i) => Buffer.alloc(i === 5 ? 300 : 1472, socketNo * 10 + i));
        new SegmentSender(sender, (why) => reports.push(why)).send(window);
        sent.push(...window);
        await new Promise((resolve) => setTimeout(resolve, 200));
        sender.close();
      }
      receiver.close();
      console.log(JSON.stringify({
        reports, same: Buffer.concat(received).equals(Buffer.concat(sent)),
        lengths: received.map((b) => b.length),
      }));
    `);
    const output = execFileSync('ip', ['netns', 'exec', namespace, process.execPath, script], { timeout: 20_000, encoding: 'utf8' });
    const result = JSON.parse(output) as { reports: string[]; same: boolean; lengths: number[] };
    expect(result.lengths).toEqual([1472, 1472, 1472, 1472, 1472, 300, 1472, 1472, 1472, 1472, 1472, 300]);
    expect(result.same).toBe(true);
    expect(result.reports).toHaveLength(1);
    expect(result.reports[0], result.reports[0]).toMatch(/UDP_SEGMENT failed \(EMSGSIZE\)/);
  });
});
