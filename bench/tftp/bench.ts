// TFTP throughput: netboot's server against tftpd-hpa and atftpd, in the same run, on 127.0.0.1,
// with real clients downloading one pseudo-random file (64 MiB by default) 1 and 20 at a time.
//
//   npx vite-node bench/tftp/bench.ts [-- --size-mib 64 --concurrency 1,20 --repeat 3
//                                         --servers netboot,tftpd-hpa,atftpd --clients atftp-w16,tftp-hpa,curl-1468
//                                         --cpu-hogs 1]
// `--servers node-floor` adds node-floor.ts, a bare lock-step responder: Node's own limit.
// `--cpu-hogs N` measures a loaded machine: N busy loops pinned to cores 0..N-1 during the run.
//
// MiB/s is the aggregate: octets of verified downloads / wall time of the run. Each client's output
// is checked (size and sha256); anything else counts as failed. Single-client runs are repeated and
// the median is shown. Everything runs as processes this script starts and stops by PID; the work
// folder (in /dev/shm when there is one, so client writes do not measure the disk) is removed at exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePseudoRandom } from '../../test/tftp/support/content.js';
import { buildNetboot, requireBinary, startServer, stopChild, type RunningServer } from './servers.js';

interface ClientKind {
  readonly name: string;
  readonly label: string;
  readonly binary: string;
  readonly debianPackage: string;
  args(port: number, file: string, out: string): string[];
}

const clientKinds: readonly ClientKind[] = [
  {
    name: 'atftp-w16', label: 'atftp windowsize=16 blksize=1468', binary: '/usr/bin/atftp', debianPackage: 'atftp',
    args: (port, file, out) => ['--option', 'windowsize 16', '--option', 'blksize 1468', '-g', '-r', file, '-l', out, '127.0.0.1', String(port)],
  },
  {
    name: 'tftp-hpa', label: 'tftp-hpa (512, no options)', binary: '/usr/bin/tftp', debianPackage: 'tftp-hpa',
    args: (port, file, out) => ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', file, out],
  },
  {
    name: 'curl-1468', label: 'curl blksize=1468', binary: '/usr/bin/curl', debianPackage: 'curl',
    args: (port, file, out) => ['--silent', '--max-time', '300', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${port}/${file}`],
  },
];

interface RunResult {
  readonly mibPerSecond: number;
  readonly seconds: number;
  readonly failed: number;
  readonly serverCpu: number;
}

function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1]! : fallback;
}

const sizeMib = Number(flag('size-mib', '64'));
const concurrencies = flag('concurrency', '1,20').split(',').map(Number);
const repeat = Number(flag('repeat', '3'));
const serverNames = flag('servers', 'netboot,tftpd-hpa,atftpd').split(',');
const clients = flag('clients', clientKinds.map((c) => c.name).join(',')).split(',')
  .map((n) => clientKinds.find((c) => c.name === n) ?? fail(`unknown client ${n}`));
/** No run may take longer than this: clients still running then are killed and count as failed. */
const runTimeoutMs = Number(flag('run-timeout-s', '240')) * 1000;
const basePort = Number(flag('port', '17069'));
/**
 * A loaded machine (issue #15): this many busy loops, each pinned to its own core from core 0 up,
 * run beside the servers and clients for the whole run, and are stopped by PID at its end.
 */
const cpuHogs = Number(flag('cpu-hogs', '0'));
if (!Number.isInteger(cpuHogs) || cpuHogs < 0 || cpuHogs > availableParallelism()) throw new Error('--cpu-hogs: 0 to the number of cores');

function fail(message: string): never {
  throw new Error(message);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Starts `count` clients at once; resolves when all have exited (or were killed at the timeout). */
async function runClients(kind: ClientKind, port: number, count: number, outDir: string, file: string): Promise<{ seconds: number; outputs: string[]; codes: (number | null)[] }> {
  const outputs = Array.from({ length: count }, (_, i) => join(outDir, `out-${i}`));
  const started = process.hrtime.bigint();
  const codes = await Promise.all(outputs.map((out) => new Promise<number | null>((resolve) => {
    const child = spawn(kind.binary, kind.args(port, file, out), { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once('error', () => resolve(null));
  })));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, outputs, codes };
}

async function measure(server: RunningServer, kind: ClientKind, count: number, work: string, expected: { size: number; sha256: string }): Promise<RunResult> {
  const outDir = join(work, 'out');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir);
  const cpuBefore = server.cpuSeconds();
  const { seconds, outputs, codes } = await runClients(kind, server.port, count, outDir, 'file.bin');
  const serverCpu = server.cpuSeconds() - cpuBefore;
  let ok = 0;
  for (const [i, out] of outputs.entries()) {
    // tftp-hpa exits 0 even after an ERROR from the server: the file itself decides.
    if (codes[i] === 0 && existsSync(out) && statSync(out).size === expected.size && (await sha256File(out)) === expected.sha256) ok++;
  }
  rmSync(outDir, { recursive: true, force: true });
  return { mibPerSecond: (ok * expected.size) / (1024 * 1024) / seconds, seconds, failed: count - ok, serverCpu };
}

function median(results: RunResult[]): RunResult {
  const sorted = [...results].sort((a, b) => a.mibPerSecond - b.mibPerSecond);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  return { ...mid, failed: results.reduce((n, r) => n + r.failed, 0) };
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, col) => (col >= 2 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main(): Promise<void> {
  for (const kind of clients) requireBinary(kind.binary, kind.debianPackage);
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const work = mkdtempSync(join(base, 'nb-tftp-bench-'));
  const servers: RunningServer[] = [];
  const netboot = serverNames.some((n) => n === 'netboot' || n === 'node-floor') ? buildNetboot() : null;
  const hogs: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(hogs.splice(0).map((hog) => stopChild(hog)));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    rmSync(work, { recursive: true, force: true });
    netboot?.cleanup();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    // tftpd-hpa and atftpd drop to user nobody: the served tree must be world-readable.
    chmodSync(work, 0o755);
    const root = join(work, 'root');
    mkdirSync(root, { mode: 0o755 });
    const size = sizeMib * 1024 * 1024;
    const sha256 = writePseudoRandom(join(root, 'file.bin'), size, 'bench');
    chmodSync(join(root, 'file.bin'), 0o644);
    for (let core = 0; core < cpuHogs; core++) {
      // taskset keeps each loop on its core, as a busy process would be; node is at hand everywhere.
      hogs.push(spawn('taskset', ['-c', String(core), process.execPath, '-e', 'for (;;);'], { stdio: 'ignore' }));
    }
    if (cpuHogs) console.log(`loaded: ${cpuHogs} busy loop(s) pinned to core(s) 0${cpuHogs > 1 ? `-${cpuHogs - 1}` : ''} for the whole run`);
    console.log(`file: ${sizeMib} MiB, clients: ${clients.map((c) => c.name).join(', ')}, concurrency: ${concurrencies.join(', ')}, single-client runs: median of ${repeat}`);

    const rows: string[][] = [['server', 'client/options', 'concurrency', 'MiB/s', 'failed', 'seconds', 'server CPU s']];
    for (const [i, name] of serverNames.entries()) {
      const server = await startServer(name, root, basePort + i, work, netboot ?? undefined);
      servers.push(server);
      for (const kind of clients) {
        for (const count of concurrencies) {
          const runs: RunResult[] = [];
          for (let r = 0; r < (count === 1 ? repeat : 1); r++) runs.push(await measure(server, kind, count, work, { size, sha256 }));
          const m = median(runs);
          // tftpd-hpa forks a process per transfer that its parent never accounts for: no CPU figure.
          const cpu = name === 'tftpd-hpa' ? 'n/a' : m.serverCpu.toFixed(2);
          const row = [name, kind.label, String(count), m.mibPerSecond.toFixed(1), String(m.failed), m.seconds.toFixed(2), cpu];
          console.error(row.join('\t'));
          rows.push(row);
        }
      }
      await server.stop();
      servers.splice(servers.indexOf(server), 1);
    }
    console.log('');
    printTable(rows);
  } finally {
    await cleanup();
  }
}

await main();
