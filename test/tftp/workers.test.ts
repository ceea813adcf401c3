// Transfer workers on loopback (worker-pool.ts, transfer-worker.ts): real worker threads, real
// sockets, hand-crafted clients. Workers run the compiled dist/tftp/transfer-worker.js: `npm run build`
// first (the pool says so when it is missing).
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  directoryFiles, ErrorCode, Opcode, startTftpServer, type TftpServer, type TftpTransferEvent,
} from '../../src/tftp/index.js';
import type { SessionEnd } from '../../src/tftp/session.js';
import type { TransferJob } from '../../src/tftp/transfer-runner.js';
import { WorkerPool } from '../../src/tftp/worker-pool.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { pseudoRandom } from './support/content.js';
import { TftpPeer, type Received } from './support/peer.js';

const rrq = (filename: string) => ({ opcode: Opcode.rrq, filename, mode: 'octet', options: [] }) as const;
const ack = (block: number) => ({ opcode: Opcode.ack, block }) as const;

/** Lock-step download of what follows `first` (DATA 1); returns the file. */
async function fetchAll(p: TftpPeer, first: Received): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let r = first; ; r = await p.next()) {
    if (r.packet.opcode !== Opcode.data) throw new Error(`expected DATA, got opcode ${r.packet.opcode}`);
    chunks.push(Buffer.from(r.packet.data));
    await p.send(ack(r.packet.block), r.port);
    if (r.packet.data.length < 512) return Buffer.concat(chunks);
  }
}

describe('TFTP server with transfer workers', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TftpServer | undefined;
  let events: TftpTransferEvent[];
  const peers: TftpPeer[] = [];
  const content = pseudoRandom(100_000, 'workers.test');

  const start = async (workers: number, cacheBytes?: number): Promise<TftpServer> => {
    server = await startTftpServer({
      host: '127.0.0.1', port: 0, files: directoryFiles(dir.path), log: silentLog, workers,
      ...(cacheBytes === undefined ? {} : { cacheBytes }),
      events: (e) => events.push(e), options: { timeoutMs: 10_000, retries: 1, maxPerClient: 16 },
    });
    return server;
  };
  const peer = async (): Promise<TftpPeer> => {
    const p = await TftpPeer.open();
    peers.push(p);
    return p;
  };

  beforeEach(() => {
    dir = tempDir('nb-tftp-workers-');
    writeFileSync(join(dir.path, 'kernel'), content);
    events = [];
  });

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await server?.close();
    server = undefined;
    dir.cleanup();
  });

  test('transfers spread over the workers, and each one completes', async () => {
    await start(2);
    expect(server!.workers).toHaveLength(2);
    const clients = await Promise.all([0, 1, 2, 3].map(() => peer()));
    const firsts: Received[] = [];
    for (const p of clients) {
      await p.send(rrq('kernel'), server!.address.port);
      firsts.push(await p.next());
    }
    // Four clients waiting on their first ACK: two transfers in each worker.
    expect(server!.workers.map((w) => w.transfers)).toEqual([2, 2]);
    const files = await Promise.all(clients.map((p, i) => fetchAll(p, firsts[i]!)));
    for (const file of files) expect(file.equals(content)).toBe(true);
    await expect.poll(() => events.filter((e) => e.kind === 'sent')).toHaveLength(4);
    expect(server!.workers.map((w) => w.transfers)).toEqual([0, 0]);
  });

  test('close() ends transfers running in workers with ERROR 0', async () => {
    await start(2);
    const clients = await Promise.all([0, 1, 2].map(() => peer()));
    for (const p of clients) {
      await p.send(rrq('kernel'), server!.address.port);
      await p.next();
    }
    const started = Date.now();
    await server!.close();
    expect(Date.now() - started).toBeLessThan(2000);
    for (const p of clients) {
      expect((await p.next()).packet).toMatchObject({ opcode: Opcode.error, code: ErrorCode.notDefined, message: 'server shutting down' });
    }
    expect(events.map((e) => e.kind)).toEqual(['failed', 'failed', 'failed']);
    expect(server!.activeTransfers).toBe(0);
    server = undefined;
  });

  test('a file rewritten between downloads is served new, not from the cache', async () => {
    await start(1, 1024 * 1024);
    const p = await peer();
    await p.send(rrq('kernel'), server!.address.port);
    expect((await fetchAll(p, await p.next())).equals(content)).toBe(true);
    const changed = pseudoRandom(70_000, 'workers.test changed');
    writeFileSync(join(dir.path, 'kernel'), changed);
    await expect.poll(() => events).toHaveLength(1);
    await p.send(rrq('kernel'), server!.address.port);
    expect((await fetchAll(p, await p.next())).equals(changed)).toBe(true);
  });
});

describe('WorkerPool', () => {
  const peers: TftpPeer[] = [];
  let pool: WorkerPool | undefined;
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await pool?.close();
  });
  const jobFor = (p: TftpPeer): TransferJob => ({
    host: '127.0.0.1', type: 'udp4', client: { address: '127.0.0.1', port: p.port }, name: 'generated', retries: 1,
    params: { blksize: 512, windowsize: 1, timeoutMs: 10_000, oack: null },
  });

  test('a worker that dies fails its transfers and is replaced; the next transfer runs', async () => {
    pool = await WorkerPool.start(1, { logLevel: 'silent', cacheBytes: 0 }, silentLog);
    const [first] = pool.workers;
    const p = await TftpPeer.open();
    peers.push(p);
    const bytes = pseudoRandom(2000, 'pool');
    const ends: SessionEnd[] = [];
    const dying = pool.run(jobFor(p), { kind: 'bytes', bytes }, silentLog, { onEnd: (end) => ends.push(end) });
    expect((await p.next()).packet).toMatchObject({ opcode: Opcode.data, block: 1 });
    await pool.terminate(first!.threadId);
    const outcome = await dying.outcome;
    expect(outcome).toMatchObject({ kind: 'ended', end: { kind: 'failed', reason: expect.stringContaining('transfer worker stopped') } });
    expect(ends).toHaveLength(1);
    await expect.poll(() => pool!.workers.map((w) => w.threadId)).not.toEqual([first!.threadId]);

    const next = pool.run(jobFor(p), { kind: 'bytes', bytes }, silentLog, {});
    expect((await fetchAll(p, await p.next())).equals(bytes)).toBe(true);
    expect(await next.outcome).toMatchObject({ kind: 'ended', end: { kind: 'sent' } });
  });
});
