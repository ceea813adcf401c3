// HTTP file serving: netboot's file route (GET /files/<id>) against nginx (sendfile), in the same
// run, on a private network: both servers in a server namespace, curl and wrk in a client namespace,
// joined by a veth pair (../dhcp/netns.ts). Run it through bench.sh (root; checks nginx and wrk):
//
//   bench/http/bench.sh [--size-mib 256] [--repeat 9] [--connections 1,16,64] [--duration-s 10]
//                       [--aborts 1000] [--nginx-workers 1] [--nginx-sendfile on|off] [--profile]
//
// Rows: one curl stream (the median of --repeat downloads of the whole file, nginx's and netboot's
// taken in turn: one takes ~0.15 s, so a row of them in a block would meet the machine's ups and
// downs on one side only), then wrk with 1, 16 and 64 connections for --duration-s each (MiB/s: body
// and header octets wrk read / its wall time; a download still running at the end counts with what
// it read). nginx and netboot alternate row by row, so a change in the machine's load hits both. Before the rows, each server's answers to HEAD,
// Range, If-None-Match and If-Range are compared octet for octet with the file (probe-client.ts);
// after them, --aborts downloads are closed by the client halfway and the server's open file
// descriptors counted before and after. netboot's resident memory is sampled every 100 ms.
// --nginx-sendfile off makes nginx copy through user space as netboot does (64 KiB buffers).
// --profile runs netboot under `node --cpu-prof` and prints where its CPU time went (../dhcp/profile.ts).
//
// Every process is started by this script and stopped by its PID; the namespaces and the work folder
// are removed at exit, on failure and on Ctrl-C (bench.sh's trap is the backstop if this dies).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePseudoRandom } from '../../test/tftp/support/content.js';
import { createNetwork, removeStaleNamespaces, SERVER_ADDRESS, type BenchNetwork } from '../dhcp/netns.js';
import { printProfile, summarizeProfile } from '../dhcp/profile.js';
import { compileBench } from '../tftp/servers.js';
import { nginxCommand, netbootCommand, startServer, type RunningServer, type ServerSpec } from './servers.js';

const args = process.argv.slice(2).filter((a) => a !== '--');
function flag(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}
function numberFlag(name: string, fallback: number, min: number, max: number): number {
  const n = Number(flag(name, String(fallback)));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

const sizeMib = numberFlag('size-mib', 256, 1, 4096);
const repeat = numberFlag('repeat', 9, 1, 40);
const connections = flag('connections', '1,16,64').split(',').map(Number);
if (connections.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new Error('--connections: whole numbers from 1 to 256');
const durationS = numberFlag('duration-s', 10, 1, 120);
const aborts = numberFlag('aborts', 1000, 0, 10_000);
const nginxWorkers = numberFlag('nginx-workers', 1, 1, 16);
const nginxSendfile = flag('nginx-sendfile', 'on') !== 'off';
const profile = args.includes('--profile');
const tag = flag('tag', String(process.pid));
if (!/^\d+$/.test(tag)) throw new Error('--tag must be a PID');
const CLIENT_ADDRESS = '10.214.0.2';
const repoRoot = join(import.meta.dirname, '../..');
const log = (line: string): void => console.error(`[bench/http] ${line}`);
const mib = 1024 * 1024;

/** Runs a command in the client namespace; its stdout, or an error after `timeoutMs`. */
function inClient(network: BenchNetwork, command: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', network.clientNs, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => err.push(d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.join(''));
      else reject(new Error(`${command[0]} ${signal ? `killed (${signal}, after ${timeoutMs} ms)` : `exit ${code}`}: ${err.join('').slice(0, 500)}`));
    });
  });
}

/** One curl download of the whole file to /dev/null: MiB/s from curl's own size and time. */
async function curlOnce(network: BenchNetwork, url: string, size: number): Promise<number> {
  const out = await inClient(network, ['curl', '-s', '-o', '/dev/null', '--max-time', '120', '-w', '%{size_download} %{time_total} %{http_code}', url], 130_000);
  const [bytes, seconds, status] = out.trim().split(' ');
  if (Number(bytes) !== size || status !== '200') throw new Error(`curl: ${out}`);
  return Number(bytes) / mib / Number(seconds);
}

/** wrk with `count` connections for durationS; MiB/s of what it read (its Lua done() prints the sums). */
async function wrkRun(network: BenchNetwork, url: string, count: number, script: string): Promise<{ mibPerSecond: number; errors: number }> {
  const out = await inClient(network, [
    'wrk', '-t', String(Math.min(count, 2)), '-c', String(count), '-d', `${durationS}s`, '--timeout', '120s', '-s', script, url,
  ], (durationS + 60) * 1000);
  const line = /^NB (\d+) (\d+) (\d+) (\d+)$/m.exec(out);
  if (!line) throw new Error(`wrk printed no totals:\n${out}`);
  const [bytes, micros, , errors] = line.slice(1).map(Number) as [number, number, number, number];
  return { mibPerSecond: bytes / mib / (micros / 1e6), errors };
}

const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("NB %d %d %d %d\\n", summary.bytes, summary.duration, summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;

/** Samples a server's resident memory every 100 ms while `work` runs; the largest sample, KiB. */
async function withRss<T>(server: RunningServer, work: () => Promise<T>): Promise<{ result: T; rssKiB: number }> {
  let peak = server.rssKiB().now;
  const timer = setInterval(() => {
    peak = Math.max(peak, server.rssKiB().now);
  }, 100);
  try {
    return { result: await work(), rssKiB: peak };
  } finally {
    clearInterval(timer);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** QEMU of another session, or anything else keeping the CPUs busy, makes the figures noisy: said up front. */
function machineLoad(): string {
  const qemu = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('qemu-system');
    } catch {
      return false;
    }
  }).length;
  return `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}${qemu ? `, ${qemu} qemu-system process(es) running: NOISY` : ', no qemu-system running'}`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, col) => (col >= 1 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function settle(server: RunningServer, fdsBefore: number): Promise<number> {
  // Sockets close asynchronously after the client's RST/FIN: up to 5 s for the count to come back.
  const deadline = Date.now() + 5000;
  while (server.openFds() > fdsBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return server.openFds();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (bench.sh): it creates network namespaces');
  removeStaleNamespaces(log);
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const work = mkdtempSync(join(base, `nb-http-bench-${tag}-`));
  let network: BenchNetwork | undefined;
  let compiled: ReturnType<typeof compileBench> | undefined;
  const servers: RunningServer[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    network?.remove();
    rmSync(work, { recursive: true, force: true });
    compiled?.cleanup();
  };
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`before: ${machineLoad()}`);
    compiled = compileBench('nb-http-bench', ['bench/http/netboot-server.ts', 'bench/http/probe-client.ts']);
    network = createNetwork(tag, CLIENT_ADDRESS);
    chmodSync(work, 0o755); // mkdtemp's 0700 would keep nginx's workers (user nobody) out
    const root = join(work, 'root');
    mkdirSync(join(root, 'files'), { recursive: true, mode: 0o755 });
    const size = sizeMib * mib;
    // nginx's workers run as nobody: the file and its folders must be world-readable.
    const id = writePseudoRandom(join(work, 'image'), size, 'bench-http');
    const file = join(root, 'files', id);
    writeFileSync(file, readFileSync(join(work, 'image')), { mode: 0o644 });
    rmSync(join(work, 'image'));
    const script = join(work, 'totals.lua');
    writeFileSync(script, wrkScript);
    const probe = compiled.compiled('bench/http/probe-client.ts');
    const spec = (port: number): ServerSpec => ({ ns: network!.serverNs, address: SERVER_ADDRESS, port, work, root, id });
    const answers = (url: string) => async (): Promise<boolean> => {
      try {
        await inClient(network!, ['curl', '-sf', '-o', '/dev/null', '--max-time', '2', '-I', url], 5000);
        return true;
      } catch {
        return false;
      }
    };
    const nginxSpec = spec(8080);
    servers.push(await startServer('nginx', nginxSpec, nginxCommand(nginxSpec, nginxWorkers, nginxSendfile), answers(`http://${SERVER_ADDRESS}:8080/files/${id}`)));
    const netbootSpec = spec(8081);
    const entry = compiled.compiled('bench/http/netboot-server.ts');
    const node = netbootCommand(netbootSpec, entry, file);
    if (profile) node.splice(1, 0, '--cpu-prof', `--cpu-prof-dir=${join(work, 'profile')}`);
    servers.push(await startServer('netboot', netbootSpec, node, answers(`http://${SERVER_ADDRESS}:8081/files/${id}`)));
    const [nginx, netboot] = servers as [RunningServer, RunningServer];
    const mac = '?mac=52:54:00:00:00:01';

    for (const server of servers) {
      const url = server === netboot ? `${server.url}${mac}` : server.url;
      const result = JSON.parse(await inClient(network, [process.execPath, probe, 'verify', url, file], 120_000)) as { ok: number; failed: string[] };
      log(`${server.name}: ${result.ok} byte-exact checks passed${result.failed.length ? `, FAILED: ${result.failed.join('; ')}` : ''}`);
      if (result.failed.length && server === netboot) throw new Error('netboot answered wrongly: no figures');
    }

    console.log(`file: ${sizeMib} MiB; nginx ${nginxWorkers} worker(s), sendfile ${nginxSendfile ? 'on' : 'off'}; netboot: one node ${process.version} process; wrk ${durationS} s a row`);
    const rows: string[][] = [['client', 'nginx MiB/s', 'netboot MiB/s', 'ratio', 'nginx CPU s', 'netboot CPU s', 'netboot RSS MiB']];
    /** A row: each server measured `rounds` times, in turn; MiB/s is the median of its rounds. */
    const row = async (label: string, measure: (server: RunningServer) => Promise<number>, rounds = 1): Promise<void> => {
      const figures = servers.map(() => ({ runs: [] as number[], mibPerSecond: 0, cpu: 0, rss: 0 }));
      for (let round = 0; round < rounds; round++) {
        for (const [at, server] of servers.entries()) {
          const figure = figures[at]!;
          const cpu = server.cpuSeconds();
          const { result, rssKiB } = await withRss(server, () => measure(server));
          figure.runs.push(result);
          figure.cpu += server.cpuSeconds() - cpu;
          figure.rss = Math.max(figure.rss, rssKiB / 1024);
        }
      }
      for (const figure of figures) figure.mibPerSecond = median(figure.runs);
      const [n, b] = figures as [typeof figures[0], typeof figures[0]];
      const cells = [label, n.mibPerSecond.toFixed(0), b.mibPerSecond.toFixed(0), `${(b.mibPerSecond / n.mibPerSecond).toFixed(2)}x`, n.cpu.toFixed(2), b.cpu.toFixed(2), b.rss.toFixed(0)];
      log(cells.join('\t'));
      rows.push(cells);
    };
    const urlOf = (server: RunningServer): string => (server === netboot ? `${server.url}${mac}` : server.url);
    await row(`curl, one stream (median of ${repeat})`, (server) => curlOnce(network!, urlOf(server), size), repeat);
    for (const count of connections) {
      await row(`wrk, ${count} connection${count === 1 ? '' : 's'}`, async (server) => {
        const { mibPerSecond, errors } = await wrkRun(network!, urlOf(server), count, script);
        if (errors) log(`${server.name}: wrk counted ${errors} errors with ${count} connections`);
        return mibPerSecond;
      });
    }

    const fdLines: string[] = [];
    if (aborts > 0) {
      for (const server of servers) {
        const before = server.openFds();
        const out = await inClient(network, [process.execPath, probe, 'abort', urlOf(server), String(aborts), '16'], 600_000);
        const after = await settle(server, before);
        fdLines.push(`${server.name}: ${aborts} downloads closed by the client after 256 KiB (${out.trim()}): open fds ${before} before, ${after} after`);
      }
    }
    const load = machineLoad();
    const netbootRss = netboot.rssKiB();
    const nginxRss = nginx.rssKiB();
    const summary = await netboot.stop();
    servers.splice(servers.indexOf(netboot), 1);
    console.log('');
    printTable(rows);
    console.log('');
    for (const line of fdLines) console.log(line);
    console.log(`netboot: resident ${(netbootRss.now / 1024).toFixed(0)} MiB at the end, peak ${(netbootRss.peak / 1024).toFixed(0)} MiB; nginx (all processes) ${(nginxRss.now / 1024).toFixed(0)} MiB`);
    console.log(`netboot ${summary.split('\n').find((line) => line.startsWith('body: ')) ?? 'body: not said'}`);
    console.log(`netboot timeline: ${summary.trim().split('\n').at(-1)}`);
    console.log(`after: ${load}`);
    const summarized = profile ? summarizeProfile(join(work, 'profile'), repoRoot) : undefined;
    if (summarized) printProfile(summarized, (line) => console.log(line));
  } finally {
    await cleanup();
  }
}

await main();
