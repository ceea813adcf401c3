// DHCP lease throughput: netboot against ISC Kea (kea-dhcp4), in the same run, on a private network:
// each server in its own run inside a server namespace, the load generator (loadgen.ts) in a client
// namespace, joined by a veth pair (netns.ts). Run it through bench.sh (root; installs Kea, builds):
//
//   bench/dhcp/bench.sh [--leases 10000] [--concurrency 64] [--servers netboot,kea] [--repeat 1]
//                       [--timeout-ms 2000] [--retries 3] [--deadline-s 600] [--lease-time 3600]
//                       [--profile] [--netboot-dir DIR] [--keep]
//
// Per server and run: leases/s (completed DORAs / wall time), p50/p99 DORA latency, failures
// (timeouts, NAKs, unfinished at the deadline, malformed answers), duplicate addresses (one IP ACKed
// to two MACs), the server's CPU time, and durability: the server is stopped with SIGTERM and its lease
// store read back (netboot: SQLite table `leases`; Kea: the memfile CSV); every ACKed (mac, ip) must
// be there. Then the netboot/Kea ratio of leases/s (medians over --repeat runs).
// --profile runs netboot under `node --cpu-prof` and prints where its CPU time went (profile.ts).
// --netboot-dir benchmarks another checkout (built, with node_modules), e.g. an older commit.
//
// Every process is started by this script and stopped by its PID; the namespaces and the work folder
// are removed at exit, on failure and on Ctrl-C (bench.sh's trap is the backstop if this dies).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadResult } from './loadgen.js';
import { createNetwork, POOL, removeStaleNamespaces, type BenchNetwork } from './netns.js';
import { printProfile, summarizeProfile } from './profile.js';
import { KEA_BINARY, requireKea, startServer, type RunningServer, type StoreCheck } from './servers.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2).filter((a) => a !== '--');

function flag(name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
}
function numberFlag(name: string, fallback: number, min: number): number {
  const n = Number(flag(name, String(fallback)));
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
  return n;
}

const leases = numberFlag('leases', 10_000, 1);
const concurrency = numberFlag('concurrency', 64, 1);
const serverNames = [...new Set(flag('servers', 'netboot,kea').split(',').filter(Boolean))];
const repeat = numberFlag('repeat', 1, 1);
const timeoutMs = numberFlag('timeout-ms', 2000, 10);
const retries = numberFlag('retries', 3, 0);
const deadlineS = numberFlag('deadline-s', 600, 1);
const readyTimeoutS = numberFlag('ready-timeout-s', 30, 1);
const leaseTime = numberFlag('lease-time', 3600, 60);
const profile = args.includes('--profile');
const keep = args.includes('--keep');
const netbootDir = resolve(flag('netboot-dir', repoRoot));
const tag = flag('tag', String(process.pid));
if (!/^\d+$/.test(tag)) throw new Error('--tag must be a PID');
const poolSize = ipNumber(POOL.end) - ipNumber(POOL.start) + 1;

interface RunRow {
  readonly server: string;
  readonly run: number;
  readonly load: LoadResult;
  readonly leasesPerSecond: number;
  readonly duplicates: number;
  readonly outsidePool: number;
  readonly store: StoreCheck;
  readonly cpuSeconds: number;
  readonly stopped: string;
  readonly error?: string;
}

function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

const log = (line: string): void => console.error(`[bench/dhcp] ${line}`);

/** Which netboot is measured: its commit and whether src/ has uncommitted changes. */
function netbootVersion(): string {
  try {
    const git = (...a: string[]): string => execFileSync('git', ['-C', netbootDir, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    return `${git('rev-parse', '--short', 'HEAD')}${changed > 0 ? ` + ${changed} uncommitted files in src/` : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

/** loadgen.ts and the codec it imports, compiled to plain ESM (vite-node's wrappers cost per call). */
function buildLoadgen(work: string): string {
  const outDir = join(work, 'js');
  try {
    execFileSync(process.execPath, [
      join(repoRoot, 'node_modules/typescript/bin/tsc'), '--outDir', outDir, '--rootDir', repoRoot,
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck',
      '--types', 'node', join(repoRoot, 'bench/dhcp/loadgen.ts'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // tsc emits despite type errors (e.g. a half-done edit in src/dhcp/codec); only missing output stops us.
    log(`tsc reported errors compiling the load generator:\n${String((err as { stdout?: Buffer }).stdout ?? err)}`);
  }
  const entry = join(outDir, 'bench/dhcp/loadgen.js');
  if (!existsSync(entry)) throw new Error('the load generator did not compile');
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  return entry;
}

/** Runs loadgen.js in the client namespace; resolves with its result, or rejects if the server dies. */
async function runLoadgen(
  network: BenchNetwork, entry: string, out: string, server: RunningServer, extra: string[], limitMs: number,
): Promise<LoadResult> {
  const child = spawn('ip', ['netns', 'exec', network.clientNs, process.execPath, entry,
    '--leases', String(leases), '--concurrency', String(concurrency), '--timeout-ms', String(timeoutMs),
    '--retries', String(retries), '--deadline-s', String(deadlineS), '--ready-timeout-s', String(readyTimeoutS),
    '--out', out, ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
  active.add(child.pid!);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let serverDied = false;
  void server.exited.then(() => {
    serverDied = true;
    child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const code = await exited;
  clearTimeout(timer);
  active.delete(child.pid!);
  if (serverDied) throw new Error(`${server.name} exited during the run:\n${server.output()}`);
  if (code !== 0 || !existsSync(out)) throw new Error(`the load generator failed (exit ${code})`);
  return JSON.parse(readFileSync(out, 'utf8')) as LoadResult;
}

/** IPs ACKed to more than one MAC; ACKed IPs outside the pool. */
function addressChecks(acked: ReadonlyArray<readonly [string, string]>): { duplicates: number; outsidePool: number } {
  const macsByIp = new Map<string, Set<string>>();
  for (const [mac, ip] of acked) macsByIp.set(ip, (macsByIp.get(ip) ?? new Set()).add(mac));
  const [start, end] = [ipNumber(POOL.start), ipNumber(POOL.end)];
  return {
    duplicates: [...macsByIp.values()].filter((macs) => macs.size > 1).length,
    outsidePool: [...macsByIp.keys()].filter((ip) => ipNumber(ip) < start || ipNumber(ip) > end).length,
  };
}

const active = new Set<number>(); // load generator PIDs
const servers = new Set<RunningServer>();

async function benchOnce(name: string, run: number, network: BenchNetwork, work: string, entry: string): Promise<RunRow> {
  const dir = join(work, `${name}-${run}`);
  rmSync(dir, { recursive: true, force: true }); // a fresh data folder for every run
  const profileDir = profile && name === 'netboot' ? join(dir, 'profile') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const server = await startServer(name, { network, dir, leaseTime, netbootDir, ...(profileDir ? { profileDir } : {}) });
  servers.add(server);
  const limitMs = (deadlineS + 2 * readyTimeoutS + 30) * 1000;
  let load: LoadResult;
  let cpuSeconds = Number.NaN;
  let error: string | undefined;
  try {
    const ready = await runLoadgen(network, entry, join(dir, 'ready.json'), server, ['--probe-only'], limitMs);
    if (!ready.ok) throw new Error(`${name} did not answer: ${ready.error}\n${server.output()}`);
    // Other work on the machine skews the figures: the load average says how busy it was.
    log(`${name} run ${run}: answering after ${ready.probeMs.toFixed(0)} ms; ${leases} DORAs, concurrency ${concurrency}; `
      + `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    const cpuBefore = server.cpuSeconds();
    load = await runLoadgen(network, entry, join(dir, 'load.json'), server, [], limitMs);
    cpuSeconds = server.cpuSeconds() - cpuBefore;
    if (!load.ok) error = load.error;
  } catch (err) {
    error = (err as Error).message;
    load = {
      ok: false, error, probeMs: Number.NaN, wallMs: 0, completed: 0, naks: 0, timeouts: 0, unfinished: leases,
      malformed: 0, retransmissions: 0, clientCpuSeconds: 0, acked: [], latencyMs: { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN },
    };
  }
  const stopped = await server.stop();
  servers.delete(server);
  const store = server.checkStore(load.acked);
  const row: RunRow = {
    server: name, run, load, leasesPerSecond: load.wallMs > 0 ? load.completed / (load.wallMs / 1000) : 0,
    ...addressChecks(load.acked), store, cpuSeconds, stopped, ...(error ? { error } : {}),
  };
  log(`${name} run ${run}: ${row.leasesPerSecond.toFixed(0)} leases/s, ${load.completed} ACKed, store ${store.leases} leases, `
    + `${store.missing} missing${store.error ? ` (${store.error})` : ''}; server ${stopped}${error ? `; ERROR ${error}` : ''}`);
  if (profileDir) {
    const summary = summarizeProfile(profileDir, netbootDir);
    if (summary) printProfile(summary, (line) => console.log(line));
    else log('no CPU profile was written (did netboot exit cleanly?)');
  }
  return row;
}

function fmt(n: number | null | undefined, digits = 1): string {
  return n === null || n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, col) => (col >= 2 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('run as root (bench/dhcp/bench.sh): network namespaces and port 67');
  if (leases > poolSize - 2) throw new Error(`--leases ${leases} exceeds the pool (${poolSize} addresses, two kept for the readiness probes)`);
  if (serverNames.includes('kea')) requireKea();
  if (serverNames.includes('netboot') && !existsSync(join(netbootDir, 'dist/cli/main.js'))) {
    throw new Error(`${netbootDir}/dist is missing: npm run build there (bench.sh does it for this checkout)`);
  }
  removeStaleNamespaces(log);
  // The tag in the name lets bench.sh's trap remove the folder if this process is killed.
  const work = mkdtempSync(join(tmpdir(), `nb-dhcp-bench-${tag}-`));
  let network: BenchNetwork | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    for (const pid of active) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await Promise.all([...servers].map((s) => s.stop(5000)));
    network?.remove();
    if (keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (signal: string): void => {
    log(`${signal}: stopping servers, removing namespaces`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  try {
    const entry = buildLoadgen(work);
    network = createNetwork(tag);
    log(`namespaces ${network.serverNs} (${network.serverAddress}/16 on ${network.serverIf}) and ${network.clientNs}; `
      + `pool ${POOL.start} - ${POOL.end}; data under ${work} (${execFileSync('stat', ['-f', '-c', '%T', work], { encoding: 'utf8' }).trim()})`);
    if (serverNames.includes('netboot')) log(`netboot: ${netbootDir} at ${netbootVersion()}`);
    if (serverNames.includes('kea')) log(`kea: ${execFileSync(KEA_BINARY, ['-v'], { encoding: 'utf8' }).trim()}`);
    const results: RunRow[] = [];
    for (let run = 1; run <= repeat; run++) {
      for (const name of serverNames) results.push(await benchOnce(name, run, network, work, entry));
    }

    console.log('');
    console.log(`${leases} DORAs per run, concurrency ${concurrency}, timeout ${timeoutMs} ms x ${retries} retransmissions, lease time ${leaseTime} s`);
    const table: string[][] = [[
      'server', 'run', 'leases/s', 'wall s', 'p50 ms', 'p99 ms', 'ACKed', 'timeouts', 'NAKs', 'unfinished', 'malformed',
      'retransmits', 'dup IPs', 'in store', 'missing', 'CPU s', 'CPU ms/lease', 'client CPU s',
    ]];
    for (const r of results) {
      table.push([
        r.server, String(r.run), fmt(r.leasesPerSecond, 0), fmt(r.load.wallMs / 1000, 2), fmt(r.load.latencyMs.p50, 2), fmt(r.load.latencyMs.p99, 2),
        String(r.load.completed), String(r.load.timeouts), String(r.load.naks), String(r.load.unfinished),
        String(r.load.malformed + r.outsidePool), String(r.load.retransmissions), String(r.duplicates),
        String(r.store.leases), String(r.store.missing), fmt(r.cpuSeconds, 2), fmt((r.cpuSeconds * 1000) / r.load.completed, 3),
        fmt(r.load.clientCpuSeconds, 2),
      ]);
    }
    printTable(table);
    const rate = (name: string): number => median(results.filter((r) => r.server === name).map((r) => r.leasesPerSecond));
    if (serverNames.includes('netboot') && serverNames.includes('kea')) {
      console.log(`\nnetboot/Kea leases per second: ${fmt(rate('netboot') / rate('kea'), 3)} `
        + `(${fmt(rate('netboot'), 0)} / ${fmt(rate('kea'), 0)}${repeat > 1 ? `, medians of ${repeat} runs` : ''})`);
    }
    const bad = results.filter((r) => r.error || r.duplicates > 0 || r.store.missing > 0 || r.store.error || r.outsidePool > 0);
    for (const r of bad) {
      log(`${r.server} run ${r.run}: ${r.error ?? ''} ${r.duplicates} duplicate IPs, ${r.outsidePool} outside the pool, `
        + `${r.store.missing} ACKed leases missing from the store ${r.store.error ?? ''}`);
    }
    return bad.length > 0 ? 1 : 0;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
