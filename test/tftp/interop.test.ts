// Interop with real clients on loopback (ARCHITECTURE.md "Tests, from fast to real"): curl, atftp,
// tftp-hpa and busybox download byte-exact copies, with and without RFC 2347/2348/7440 options,
// including a file past block 65535 at 512-octet blocks; traversal and writes are refused. A missing
// client binary fails the test with the Debian package to install (support/clients.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { directoryFiles, startTftpServer, type TftpServer, type TftpTransferEvent } from '../../src/tftp/index.js';
import { silentLog, tempDir } from '../support/fixtures.js';
import { atftp, busybox, curl, download, requireClient, runClient, tftpHpa, type RunResult } from './support/clients.js';
import { sha256, writePseudoRandom } from './support/content.js';

/** Past 65535 blocks of 512 octets (32 MiB), so the block number wraps (session.ts). */
const BIG = 32 * 1024 * 1024 + 700 * 1024 + 123;
const MEDIUM = 3 * 1024 * 1024 + 77;

describe('real TFTP clients against the server', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TftpServer;
  let port: number;
  const events: TftpTransferEvent[] = [];
  const sums: Record<string, string> = {};

  beforeAll(async () => {
    for (const client of [curl, atftp, tftpHpa, busybox]) requireClient(client);
    dir = tempDir('nb-tftp-interop-');
    sums.medium = writePseudoRandom(join(dir.path, 'medium.bin'), MEDIUM, 'medium');
    sums.big = writePseudoRandom(join(dir.path, 'big.bin'), BIG, 'big');
    sums.exact = writePseudoRandom(join(dir.path, 'exact.bin'), 4 * 1468, 'exact'); // ends with an empty block
    writeFileSync(join(dir.path, 'empty.bin'), '');
    writeFileSync(join(dir.path, 'upload-target'), 'unchanged');
    server = await startTftpServer({
      host: '127.0.0.1', port: 0, files: directoryFiles(dir.path), log: silentLog, events: (e) => events.push(e),
      // Every client here is 127.0.0.1: the per-client cap would otherwise refuse the concurrent runs.
      options: { maxPerClient: 32 },
    });
    port = server.address.port;
  });

  afterAll(async () => {
    await server?.close();
    dir?.cleanup();
  });

  const out = (name: string) => join(dir.path, `out-${name}`);
  const expectDownloaded = (result: RunResult, path: string, sum: string) => {
    expect(result.code, `exit code; stderr: ${result.stderr}`).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/error/i);
    expect(sha256(readFileSync(path))).toBe(sum);
  };

  const downloads = [
    { name: 'curl, plain 512', client: curl, args: (o: string) => download.curl(port, 'medium.bin', o) },
    { name: 'curl --tftp-blksize 1468', client: curl, args: (o: string) => download.curl(port, 'medium.bin', o, 1468) },
    { name: 'atftp, no options', client: atftp, args: (o: string) => download.atftp(port, 'medium.bin', o) },
    { name: 'atftp windowsize 16 blksize 1468', client: atftp, args: (o: string) => download.atftp(port, 'medium.bin', o, { windowsize: 16, blksize: 1468 }) },
    { name: 'atftp like OVMF: tsize 0 blksize 1468 windowsize 4', client: atftp, args: (o: string) => download.atftp(port, 'medium.bin', o, { tsize: 0, blksize: 1468, windowsize: 4 }) },
    { name: 'atftp windowsize 64 blksize 8192 (capped to 1468)', client: atftp, args: (o: string) => download.atftp(port, 'medium.bin', o, { windowsize: 64, blksize: 8192 }) },
    { name: 'tftp-hpa -m binary', client: tftpHpa, args: (o: string) => download.tftpHpa(port, 'medium.bin', o) },
    { name: 'busybox', client: busybox, args: (o: string) => download.busybox(port, 'medium.bin', o) },
    { name: 'busybox -b 1468', client: busybox, args: (o: string) => download.busybox(port, 'medium.bin', o, 1468) },
  ];
  test.concurrent.each(downloads)('$name: byte-exact', async ({ name, client, args }) => {
    const path = out(name.replace(/\W+/g, '-'));
    expectDownloaded(await runClient(client, args(path)), path, sums.medium!);
  });

  test.concurrent.each([
    { client: tftpHpa, args: (o: string) => download.tftpHpa(port, 'big.bin', o) },
    { client: curl, args: (o: string) => download.curl(port, 'big.bin', o) },
    { client: atftp, args: (o: string) => download.atftp(port, 'big.bin', o) },
    { client: busybox, args: (o: string) => download.busybox(port, 'big.bin', o) },
  ])('$client.debianPackage: a file over 32 MiB at 512-octet blocks (block number wraps to 0)', async ({ client, args }) => {
    const path = out(`big-${client.debianPackage}`);
    expectDownloaded(await runClient(client, args(path), 40_000), path, sums.big!);
  }, 45_000);

  test.concurrent.each([
    { client: tftpHpa, args: (o: string) => download.tftpHpa(port, 'exact.bin', o) },
    { client: busybox, args: (o: string) => download.busybox(port, 'exact.bin', o, 1468) },
    { client: atftp, args: (o: string) => download.atftp(port, 'exact.bin', o, { blksize: 1468, windowsize: 4 }) },
  ])('$client.debianPackage: a file of whole blocks (the last DATA is empty)', async ({ client, args }) => {
    const path = out(`exact-${client.debianPackage}`);
    expectDownloaded(await runClient(client, args(path)), path, sums.exact!);
  });

  // curl 7.88 is left out: it rejects "tsize 0" in any server's OACK ("invalid tsize -:0:- value").
  test.concurrent.each([
    { client: tftpHpa, args: (o: string) => download.tftpHpa(port, 'empty.bin', o) },
    { client: atftp, args: (o: string) => download.atftp(port, 'empty.bin', o, { tsize: 0 }) },
    { client: busybox, args: (o: string) => download.busybox(port, 'empty.bin', o) },
  ])('$client.debianPackage: an empty file', async ({ client, args }) => {
    const path = out(`empty-${client.debianPackage}`);
    expectDownloaded(await runClient(client, args(path)), path, sha256(Buffer.alloc(0)));
  });

  // tftp-hpa exits 0 even when the server refuses; its message says what happened.
  const refusals = [
    { name: 'tftp-hpa: ../../etc/passwd', client: tftpHpa, args: (o: string) => download.tftpHpa(port, '../../etc/passwd', o), message: /Error code 1: File not found/ },
    { name: 'tftp-hpa: /etc/passwd (absolute: under the root, so missing)', client: tftpHpa, args: (o: string) => download.tftpHpa(port, '/etc/passwd', o), message: /Error code 1/ },
    { name: 'curl --path-as-is: ../../etc/passwd', client: curl, args: (o: string) => ['--path-as-is', ...download.curl(port, '../../etc/passwd', o)], exit: 68 },
    { name: 'atftp: ../../../etc/passwd', client: atftp, args: (o: string) => download.atftp(port, '../../../etc/passwd', o), message: /File not found/ },
    { name: 'busybox: ..\\..\\etc\\passwd', client: busybox, args: (o: string) => download.busybox(port, '..\\..\\etc\\passwd', o), message: /File not found/ },
    { name: 'tftp-hpa in its default netascii mode', client: tftpHpa, args: (o: string) => ['127.0.0.1', String(port), '-c', 'get', 'medium.bin', o], message: /Error code 4: mode netascii is not supported: use octet \(binary\)/ },
  ];
  test.concurrent.each(refusals)('refused: $name', async ({ name, client, args, message, exit }) => {
    const path = out(`refused-${name.replace(/\W+/g, '-')}`);
    const result = await runClient(client, args(path));
    if (message) expect(`${result.stdout}${result.stderr}`).toMatch(message);
    if (exit !== undefined) expect(result.code).toBe(exit);
    // Nothing from outside the root arrived (tftp-hpa creates an empty output file before asking).
    expect(!existsSync(path) || readFileSync(path).length === 0).toBe(true);
  });

  const uploads = [
    { client: tftpHpa, args: ['127.0.0.1', '', '-m', 'binary', '-c', 'put', '/etc/hostname', 'upload-target'], message: /Error code 2: this server is read-only/ },
    { client: curl, args: ['-sS', '-T', '/etc/hostname', 'tftp://127.0.0.1:PORT/upload-target'] },
    { client: atftp, args: ['-p', '-l', '/etc/hostname', '-r', 'upload-target', '127.0.0.1', ''], message: /read-only/ },
    { client: busybox, args: ['tftp', '-p', '-l', '/etc/hostname', '-r', 'upload-target', '127.0.0.1', ''], message: /read-only/ },
  ];
  test.concurrent.each(uploads)('refused: $client.debianPackage put (WRQ)', async ({ client, args, message }) => {
    const result = await runClient(client, args.map((a) => (a === '' ? String(port) : a.replace('PORT', String(port)))));
    if (message) expect(`${result.stdout}${result.stderr}`).toMatch(message);
    else expect(result.code).not.toBe(0);
    expect(readFileSync(join(dir.path, 'upload-target'), 'utf8')).toBe('unchanged');
  });

  test('tftp-hpa: several files in one session, from one client port, without waiting', async () => {
    // tftp-hpa keeps one socket for the session and sends the next RRQ right after the last ACK:
    // the server must already have let go of that TID (a stale "transfer running" costs 5 s each).
    const session = join(dir.path, 'session');
    mkdirSync(session);
    const started = Date.now();
    const result = await runClient(tftpHpa, ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', 'exact.bin', 'medium.bin', 'empty.bin'], 15_000, session);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/error/i);
    expect(Date.now() - started).toBeLessThan(8000); // a stale TID would cost 5 s per file
    expect(sha256(readFileSync(join(session, 'exact.bin')))).toBe(sums.exact);
    expect(sha256(readFileSync(join(session, 'medium.bin')))).toBe(sums.medium);
    expect(readFileSync(join(session, 'empty.bin'))).toHaveLength(0);
  });

  test('every download above was reported as sent', async () => {
    // Runs after the concurrent tests of this file have settled (vitest runs this one alone).
    const sent = events.filter((e) => e.kind === 'sent');
    expect(sent.filter((e) => e.name === 'big.bin').map((e) => e.bytes)).toEqual([BIG, BIG, BIG, BIG]);
    expect(sent.filter((e) => e.name === 'medium.bin')).toHaveLength(downloads.length + 1);
    // A client that retransmitted its RRQ after the last block was out gets a second transfer that
    // nobody reads (server.ts: it cannot be told from the client's next request); it ends with its
    // retries, a few seconds later.
    await expect.poll(() => server.activeTransfers, { timeout: 15_000, interval: 200 }).toBe(0);
  }, 20_000);
});

test('a missing client binary fails with the Debian package to install, never a skip', () => {
  expect(() => requireClient({ path: '/nonexistent/tftp', debianPackage: 'tftp-hpa' }))
    .toThrow('/nonexistent/tftp is missing: install the Debian package tftp-hpa (scripts/install-deps.sh does)');
});
