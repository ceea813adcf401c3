// The server on loopback with hand-crafted clients (test/tftp/support/peer.ts), for the sequences
// real client programs do not produce on demand: the OVMF tsize probe, a stranger TID, repeated
// requests, limits, lost ACKs, shutdown. Real clients are in interop.test.ts.
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  bufferSource, directoryFiles, ErrorCode, Opcode, startTftpServer,
  type TftpFiles, type TftpServer, type TftpServerDeps, type TftpTransferEvent,
} from '../../src/tftp/index.js';
import type { TftpLimits } from '../../src/tftp/negotiate.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { pseudoRandom } from './support/content.js';
import { TftpPeer, type Received } from './support/peer.js';

const opt = (name: string, value: string) => ({ name, value });
const rrq = (filename: string, ...options: { name: string; value: string }[]) =>
  ({ opcode: Opcode.rrq, filename, mode: 'octet', options }) as const;
const ack = (block: number) => ({ opcode: Opcode.ack, block }) as const;
const describeReceived = (r: Received) => JSON.stringify(r.packet, (k, v) => (k === 'data' ? `<${(v as { data: number[] }).data.length} octets>` : v));

describe('TFTP server on loopback', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TftpServer | undefined;
  let events: TftpTransferEvent[];
  let logLines: Record<string, unknown>[];
  const peers: TftpPeer[] = [];
  const content = pseudoRandom(40_000, 'server.test');

  const start = async (options: Partial<TftpLimits> = {}, files?: TftpFiles, extra: Partial<TftpServerDeps> = {}): Promise<TftpServer> => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    server = await startTftpServer({
      host: '127.0.0.1', port: 0, files: files ?? directoryFiles(dir.path), log: pino({ level: 'debug' }, sink),
      events: (e) => events.push(e), options: { timeoutMs: 300, retries: 2, ...options }, ...extra,
    });
    return server;
  };
  const peer = async (address = '127.0.0.1'): Promise<TftpPeer> => {
    const p = await TftpPeer.open(address);
    peers.push(p);
    return p;
  };
  const port = () => server!.address.port;

  /** Downloads by hand: ACKs the last block of every window, as OVMF does (testdata/tftp/README.md). */
  async function fetchAll(p: TftpPeer, first: Received, blksize: number, windowsize: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let r = first;
    for (let inWindow = 1; ; inWindow++) {
      if (r.packet.opcode !== Opcode.data) throw new Error(`expected DATA, got ${describeReceived(r)}`);
      chunks.push(Buffer.from(r.packet.data));
      const last = r.packet.data.length < blksize;
      if (last || inWindow === windowsize) {
        await p.send(ack(r.packet.block), r.port);
        inWindow = 0;
        if (last) return Buffer.concat(chunks);
      }
      r = await p.next();
    }
  }

  beforeEach(() => {
    dir = tempDir('nb-tftp-server-');
    writeFileSync(join(dir.path, 'loader.efi'), content);
    events = [];
    logLines = [];
  });

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await server?.close();
    server = undefined;
    dir.cleanup();
  });

  test('OVMF: tsize probe, ERROR 8, then the download from a new port (FACTS.md)', async () => {
    await start();
    const probe = await peer();
    await probe.send(rrq('loader.efi', opt('tsize', '0'), opt('blksize', '1468'), opt('windowsize', '4')), port());
    const oack = await probe.next();
    expect(oack.packet).toEqual({ opcode: Opcode.oack, options: [opt('tsize', '40000'), opt('blksize', '1468'), opt('windowsize', '4')] });
    expect(oack.port).not.toBe(port()); // RFC 1350 §4: a new TID
    await probe.send({ opcode: Opcode.error, code: ErrorCode.optionsRefused, message: 'User aborted the transfer' }, oack.port);
    // Nothing more from that TID: no OACK retransmission after the 300 ms timeout, no ERROR.
    expect(await probe.drain(900)).toEqual([]);

    const download = await peer();
    await download.send(rrq('loader.efi', opt('blksize', '1468'), opt('windowsize', '4')), port());
    const oack2 = await download.next();
    expect(oack2.packet).toEqual({ opcode: Opcode.oack, options: [opt('blksize', '1468'), opt('windowsize', '4')] });
    await download.send(ack(0), oack2.port);
    const got = await fetchAll(download, await download.next(), 1468, 4);
    expect(got.equals(content)).toBe(true);
    await expect.poll(() => events.map((e) => `${e.kind} ${e.bytes} ${e.clientErrorCode}`)).toEqual(['aborted 0 8', 'sent 40000 undefined']);
    // The probe's ERROR 8 is normal: logged at debug, never as a warning.
    const probeLogs = logLines.filter((l) => l.client === `127.0.0.1:${probe.port}`);
    expect(probeLogs.map((l) => l.level)).toEqual([20, 20]);
  });

  test('a packet from a stranger TID gets ERROR 5 and the transfer goes on (RFC 1350 §4)', async () => {
    await start();
    const client = await peer();
    const stranger = await peer();
    await client.send(rrq('loader.efi'), port());
    const first = await client.next();
    expect(first.packet).toMatchObject({ opcode: Opcode.data, block: 1 });
    await stranger.send(ack(1), first.port);
    expect((await stranger.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.unknownTransferId });
    await stranger.send(Buffer.from('junk'), first.port); // not TFTP: no answer
    await stranger.send({ opcode: Opcode.error, code: 0, message: 'x' }, first.port); // an ERROR: no answer
    await client.send(ack(1), first.port);
    const got = await fetchAll(client, await client.next(), 512, 1);
    expect(Buffer.concat([first.packet.opcode === Opcode.data ? first.packet.data : Buffer.alloc(0), got]).equals(content)).toBe(true);
    expect(await stranger.drain(100)).toEqual([]);
  });

  test.each([
    { name: 'WRQ: access violation', packet: { opcode: Opcode.wrq, filename: 'x', mode: 'octet', options: [] }, code: ErrorCode.accessViolation },
    { name: 'netascii: illegal operation', packet: { opcode: Opcode.rrq, filename: 'loader.efi', mode: 'netascii', options: [] }, code: ErrorCode.illegalOperation },
    { name: 'missing file', packet: rrq('missing.efi'), code: ErrorCode.fileNotFound },
    { name: 'traversal', packet: rrq('../../etc/passwd'), code: ErrorCode.fileNotFound },
    { name: 'absolute path outside the root', packet: rrq('/etc/passwd'), code: ErrorCode.fileNotFound },
    { name: 'malformed request', packet: Buffer.from([0, 1, 0x61]), code: ErrorCode.illegalOperation },
  ] as const)('refused: $name', async ({ packet, code }) => {
    await start();
    const p = await peer();
    await p.send(packet as never, port());
    const reply = await p.next();
    expect(reply.packet).toMatchObject({ opcode: Opcode.error, code });
    expect(reply.port).not.toBe(port());
    expect(await p.drain(100)).toEqual([]);
  });

  test('non-requests on the TFTP port are ignored', async () => {
    await start();
    const p = await peer();
    await p.send(ack(1), port());
    await p.send(Buffer.from([0, 9, 1, 2]), port());
    expect(await p.drain(200)).toEqual([]);
  });

  test('a repeated RRQ from the same port does not start a second transfer', async () => {
    await start();
    const p = await peer();
    await p.send(rrq('loader.efi'), port());
    await p.send(rrq('loader.efi'), port());
    const first = await p.next();
    expect(server!.activeTransfers).toBe(1);
    // Only the running transfer's retransmission of DATA 1 arrives, all from one TID.
    const more = await p.drain(400);
    expect(more.every((r) => r.port === first.port)).toBe(true);
  });

  test('the next RRQ from the same port right after the last ACK is a new transfer', async () => {
    writeFileSync(join(dir.path, 'small'), 'tiny');
    await start({ timeoutMs: 5000 });
    const p = await peer();
    for (let i = 0; i < 3; i++) {
      await p.send(rrq('small'), port());
      const data = await p.next(1000);
      expect(data.packet).toMatchObject({ opcode: Opcode.data, block: 1 });
      await p.send(ack(1), data.port);
    }
    await expect.poll(() => events.filter((e) => e.kind === 'sent')).toHaveLength(3);
  });

  test('per-client cap: ERROR 0 beyond it; a slot frees when a transfer ends', async () => {
    await start({ maxPerClient: 2, timeoutMs: 5000 });
    const [a, b, c] = [await peer(), await peer(), await peer()];
    await a.send(rrq('loader.efi'), port());
    await b.send(rrq('loader.efi'), port());
    const aFirst = await a.next();
    await b.next();
    await c.send(rrq('loader.efi'), port());
    expect((await c.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.notDefined, message: expect.stringContaining('too many') });
    await a.send({ opcode: Opcode.error, code: 0, message: 'done' }, aFirst.port);
    await expect.poll(() => server!.activeTransfers).toBe(1);
    await c.send(rrq('loader.efi'), port());
    expect((await c.next()).packet).toMatchObject({ opcode: Opcode.data, block: 1 });
    expect(logLines.some((l) => l.level === 40 && String(l.msg).includes('refused'))).toBe(true);
  });

  test('global cap across client addresses', async () => {
    await start({ maxTransfers: 2, timeoutMs: 5000 });
    const [a, b, c] = [await peer('127.0.0.2'), await peer('127.0.0.3'), await peer('127.0.0.4')];
    await a.send(rrq('loader.efi'), port());
    await b.send(rrq('loader.efi'), port());
    await a.next();
    await b.next();
    await c.send(rrq('loader.efi'), port());
    expect((await c.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.notDefined, message: expect.stringContaining('busy') });
  });

  test('no ACK: retransmits, then gives up with ERROR 0 and a failed event', async () => {
    await start({ timeoutMs: 100, retries: 2 });
    const p = await peer();
    await p.send(rrq('loader.efi'), port());
    const got = await p.drain(500);
    expect(got.map((r) => r.packet.opcode)).toEqual([Opcode.data, Opcode.data, Opcode.data, Opcode.error]);
    await expect.poll(() => events).toMatchObject([{ kind: 'failed', bytes: 0, name: 'loader.efi' }]);
    expect(logLines.find((l) => l.msg === 'TFTP transfer failed')).toMatchObject({ level: 40, retransmits: 2 });
  });

  test('lost final ACK: the last DATA is sent again until it is acknowledged', async () => {
    writeFileSync(join(dir.path, 'small'), 'tiny');
    await start({ timeoutMs: 100, retries: 3 });
    const p = await peer();
    await p.send(rrq('small'), port());
    const first = await p.next();
    const again = await p.next(); // our ACK "was lost": the server resends
    expect(again.packet).toEqual(first.packet);
    await p.send(ack(1), first.port);
    await expect.poll(() => events).toMatchObject([{ kind: 'sent', bytes: 4 }]);
  });

  test('close() ends running transfers with ERROR 0 and closes every socket', async () => {
    await start({ timeoutMs: 10_000 });
    const p = await peer();
    await p.send(rrq('loader.efi'), port());
    await p.next();
    const started = Date.now();
    await server!.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await p.next()).packet).toMatchObject({ opcode: Opcode.error, code: 0, message: 'server shutting down' });
    expect(server!.activeTransfers).toBe(0);
    // The port is free again: a new server binds it.
    const again = await startTftpServer({ host: '127.0.0.1', port: port(), files: directoryFiles(dir.path), log: silentLog });
    await again.close();
    server = undefined;
  });

  test('files from a TftpFiles that fails: ERROR 2 for EACCES, ERROR 0 otherwise', async () => {
    const failing: TftpFiles = {
      open: async (name) => {
        if (name === 'generated') return bufferSource(Buffer.from('generated content'));
        throw Object.assign(new Error('nope'), { code: name === 'denied' ? 'EACCES' : 'EIO' });
      },
    };
    await start({}, failing);
    const p = await peer();
    await p.send(rrq('denied'), port());
    expect((await p.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.accessViolation });
    await p.send(rrq('broken'), port());
    expect((await p.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.notDefined });
    const q = await peer();
    await q.send(rrq('generated'), port());
    const data = await q.next();
    expect(data.packet).toMatchObject({ opcode: Opcode.data, block: 1, data: Buffer.from('generated content') });
  });

  test('a read that fails mid-transfer ends it with ERROR 0', async () => {
    const files: TftpFiles = {
      open: async () => ({ size: 5000, read: () => Promise.reject(new Error('disk on fire')), close: async () => undefined }),
    };
    await start({}, files);
    const p = await peer();
    await p.send(rrq('x'), port());
    expect((await p.next()).packet).toMatchObject({ opcode: Opcode.error, code: 0, message: 'cannot read the file' });
    await expect.poll(() => events).toMatchObject([{ kind: 'failed' }]);
  });

  test('an events callback that throws does not break the server', async () => {
    await start({}, undefined, { events: () => { throw new Error('sink down'); } });
    const p = await peer();
    await p.send(rrq('missing'), port());
    expect((await p.next()).packet).toMatchObject({ code: ErrorCode.fileNotFound });
    await p.send(rrq('missing'), port());
    expect((await p.next()).packet).toMatchObject({ code: ErrorCode.fileNotFound });
  });
});

describe('startup errors say what to do', () => {
  const base = { host: '127.0.0.1', files: directoryFiles('/nonexistent'), log: silentLog };

  test('port in use', async () => {
    const first = await startTftpServer({ ...base, port: 0 });
    try {
      await expect(startTftpServer({ ...base, port: first.address.port })).rejects.toThrow(ConfigError);
      await expect(startTftpServer({ ...base, port: first.address.port })).rejects.toThrow(/is taken/);
    } finally {
      await first.close();
    }
  });

  test('address not on this host', async () => {
    await expect(startTftpServer({ ...base, host: '192.0.2.1', port: 0 })).rejects.toThrow(/not an address of this host/);
  });

  test('limits out of range', async () => {
    await expect(startTftpServer({ ...base, port: 0, options: { mtu: 20, maxPerClient: 0 } }))
      .rejects.toThrow(/tftp.mtu must be an integer in 68..65535; tftp.maxPerClient/);
  });
});
