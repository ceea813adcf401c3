// GET /api/v1/metrics: the counters of the boot HTTP app (through inject), and of real DHCP and TFTP
// servers on loopback (as test/dhcp/server.test.ts and test/tftp/server.test.ts start them), move
// with the requests they answer; the route wants the operator token like the rest of the API.
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { PromMetrics } from '../../src/api/index.js';
import { decodeDhcp, encodeDhcp, MessageType, startDhcpServer, type DhcpServer } from '../../src/dhcp/index.js';
import { buildBootApp, type ServedFile } from '../../src/http-boot/index.js';
import type { MachineEventInput } from '../../src/machines/boot.js';
import { directoryFiles, Opcode, startTftpServer, tftpTimelineEvent, type TftpServer } from '../../src/tftp/index.js';
import { clientPacket, dhcpConfig, FakeBooter, firmwareOptions, InMemoryLeaseStore, RecordingEvents, scriptUrl } from '../dhcp/fakes.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';
import { metricValue } from '../support/metrics.js';
import { TftpPeer } from '../tftp/support/peer.js';

const mac = '52:54:00:12:34:56';
// Not the ports of test/dhcp/server.test.ts: test files run side by side.
const DHCP_PORT = 16867;
const RELAY = '127.0.0.2';

let appliance: TestAppliance;
/** A folder for this test's files (the appliance's own is appliance.dir). */
let dir: ReturnType<typeof tempDir>;
let metrics: PromMetrics;
let api: FastifyInstance;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(async () => {
  dir = tempDir();
  appliance = await testAppliance();
  // The appliance's own registry: the DHCP, TFTP and boot HTTP servers below count into it.
  metrics = appliance.metrics;
  api = appliance.apiApp!;
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await appliance.dispose();
  dir.cleanup();
});

async function scrape(): Promise<string> {
  const response = await api.inject({ url: '/api/v1/metrics', headers: { authorization: `Bearer ${token}` } });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.body;
}

test('the operator token is required; process metrics are there from the start', async () => {
  expect((await api.inject({ url: '/api/v1/metrics' })).statusCode).toBe(401);
  expect((await api.inject({ url: '/api/v1/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
  const text = await scrape();
  expect(text).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
  expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
});

test('boot HTTP: requests by route and status, download octets, script renders', async () => {
  const bytes = Buffer.alloc(5000, 1);
  const id = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir.path, 'kernel'), bytes);
  const file: ServedFile = { id, role: 'kernel', path: join(dir.path, 'kernel') };
  const spec = { purpose: 'enlist', kernel: id, initrd: [], cmdline: 'console=ttyS0' } as const;
  const boot = buildBootApp({
    booter: { bootSpec: async () => spec }, files: { fileById: (want) => (want === id ? file : undefined) },
    events: { record: () => undefined }, metrics, publicUrl: 'http://127.0.0.1', log: silentLog, loaders: {},
    auth: { binding: true, macOf: () => mac, mayUseToken: () => true },
  });
  closers.push(() => boot.close());
  const before = await scrape();
  expect(metricValue(before, 'netboot_http_requests_total', { route: '/files/:id' })).toBeUndefined();

  expect((await boot.inject({ url: `/boot/${mac}.ipxe` })).statusCode).toBe(200);
  expect((await boot.inject({ url: `/files/${id}` })).statusCode).toBe(200);
  expect((await boot.inject({ url: `/files/${id}`, headers: { range: 'bytes=0-99' } })).statusCode).toBe(206);
  expect((await boot.inject({ url: `/files/${'0'.repeat(64)}` })).statusCode).toBe(404);
  expect((await boot.inject({ url: '/no/such/route' })).statusCode).toBe(404);

  const text = await scrape();
  const requests = (labels: Record<string, string>) => metricValue(text, 'netboot_http_requests_total', labels);
  expect(requests({ route: '/boot/:script', method: 'GET', status: '200' })).toBe(1);
  expect(requests({ route: '/files/:id', method: 'GET', status: '200' })).toBe(1);
  expect(requests({ route: '/files/:id', method: 'GET', status: '206' })).toBe(1);
  expect(requests({ route: '/files/:id', method: 'GET', status: '404' })).toBe(1);
  expect(requests({ route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
  expect(metricValue(text, 'netboot_http_download_bytes_total', { role: 'kernel', outcome: 'completed' })).toBe(5100);
  expect(metricValue(text, 'netboot_http_downloads_total', { role: 'kernel', outcome: 'completed' })).toBe(2);
  expect(metricValue(text, 'netboot_http_boot_scripts_total', { purpose: 'enlist', result: 'rendered' })).toBe(1);
  expect(metricValue(text, 'netboot_http_request_duration_seconds_count', { route: '/files/:id' })).toBe(3);
});

test('DHCP: packets by message type, replies, ignored requests', async () => {
  const ignoredMac = '52:54:00:99:99:99';
  const server: DhcpServer = await startDhcpServer({
    config: dhcpConfig({
      enabled: true, serverAddress: '127.0.0.1', subnet: '127.0.0.0/8', pool: { start: '127.0.0.100', end: '127.0.0.199' },
      dns: [], leaseTime: 600, offerTimeout: 30, port: DHCP_PORT, clientPort: DHCP_PORT + 1,
    }),
    leases: new InMemoryLeaseStore(), booter: new FakeBooter(undefined, [ignoredMac]), events: new RecordingEvents(),
    metrics, log: silentLog, bootScriptUrl: scriptUrl,
  });
  closers.push(() => server.close());
  // The exchange goes through a relay on loopback (RFC 1542 §4), as in test/dhcp/server.test.ts.
  const relay: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  closers.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));
  const replies: Buffer[] = [];
  relay.on('message', (message) => replies.push(message));
  await new Promise<void>((resolve) => relay.bind(DHCP_PORT, RELAY, resolve));
  const send = (bytes: Buffer) => new Promise<void>((resolve, reject) => relay.send(bytes, DHCP_PORT, '127.0.0.1', (err) => (err ? reject(err) : resolve())));

  await send(encodeDhcp(clientPacket(mac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, { giaddr: RELAY, hops: 1 })));
  await expect.poll(() => replies.length).toBe(1);
  expect(decodeDhcp(replies[0]!).options.messageType).toBe(MessageType.offer);
  await send(encodeDhcp(clientPacket(ignoredMac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, { giaddr: RELAY, hops: 1 })));
  await send(Buffer.from('not a DHCP packet at all'));

  let text = '';
  await expect.poll(async () => {
    text = await scrape();
    return metricValue(text, 'netboot_dhcp_packets_total', { server: 'dhcp', type: 'malformed' });
  }).toBe(1);
  await expect.poll(async () => metricValue(await scrape(), 'netboot_dhcp_ignored_total', { server: 'dhcp', reason: 'booter-declined' })).toBe(1);
  text = await scrape();
  expect(metricValue(text, 'netboot_dhcp_packets_total', { server: 'dhcp', type: 'discover' })).toBe(2);
  expect(metricValue(text, 'netboot_dhcp_replies_total', { server: 'dhcp', type: 'offer' })).toBe(1);
});

test('TFTP: transfers started, completed and refused, octets; the timeline event carries the numbers', async () => {
  const content = Buffer.alloc(1000, 3);
  writeFileSync(join(dir.path, 'loader.efi'), content);
  const timeline: MachineEventInput[] = [];
  const server: TftpServer = await startTftpServer({
    host: '127.0.0.1', port: 0, files: directoryFiles(dir.path), log: silentLog, metrics, workers: 0,
    events: (event) => {
      const entry = tftpTimelineEvent(event, mac);
      if (entry) timeline.push(entry);
    },
  });
  closers.push(() => server.close());
  const peer = await TftpPeer.open();
  closers.push(() => peer.close());
  const rrq = (filename: string) => ({ opcode: Opcode.rrq, filename, mode: 'octet', options: [] }) as const;

  await peer.send(rrq('loader.efi'), server.address.port);
  let got = 0;
  for (;;) {
    const { packet, port } = await peer.next();
    if (packet.opcode !== Opcode.data) throw new Error(`expected DATA, got opcode ${packet.opcode}`);
    got += packet.data.length;
    await peer.send({ opcode: Opcode.ack, block: packet.block }, port);
    if (packet.data.length < 512) break;
  }
  expect(got).toBe(content.length);
  await expect.poll(() => timeline.length).toBe(1);
  const missing = await TftpPeer.open();
  closers.push(() => missing.close());
  await missing.send(rrq('missing.efi'), server.address.port);
  expect((await missing.next()).packet.opcode).toBe(Opcode.error);
  await expect.poll(() => timeline.length).toBe(2);

  expect(timeline[0]).toMatchObject({
    mac, type: 'tftp-sent', detail: expect.stringMatching(/^loader\.efi 1000 B in \d+ ms$/) as unknown,
    data: { name: 'loader.efi', bytes: 1000, outcome: 'sent' },
  });
  expect(typeof timeline[0]!.data!.ms).toBe('number');
  expect(timeline[1]).toMatchObject({ type: 'tftp-failed', data: { name: 'missing.efi', bytes: 0, outcome: 'failed', reason: 'file not found' } });
  const text = await scrape();
  expect(metricValue(text, 'netboot_tftp_transfers_started_total')).toBe(1);
  expect(metricValue(text, 'netboot_tftp_transfers_completed_total')).toBe(1);
  expect(metricValue(text, 'netboot_tftp_transfers_failed_total', { reason: 'refused' })).toBe(1);
  expect(metricValue(text, 'netboot_tftp_bytes_total')).toBe(1000);
  expect(metricValue(text, 'netboot_tftp_transfer_duration_seconds_count', { outcome: 'sent' })).toBe(1);
});

test('the TFTP tsize probe (ERROR 8 after the OACK) makes no timeline entry', () => {
  const probe = { address: '127.0.0.1', port: 1, name: 'x', kind: 'aborted', bytes: 0, ms: 1, reason: 'client error', clientErrorCode: 8 } as const;
  expect(tftpTimelineEvent(probe, mac)).toBeNull();
  expect(tftpTimelineEvent({ ...probe, clientErrorCode: 0 }, mac)).toMatchObject({ type: 'tftp-failed', data: { outcome: 'aborted', reason: 'client error' } });
});
