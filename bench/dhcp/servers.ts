// The DHCP servers bench.ts compares, each started by this run inside the server namespace
// (`ip netns exec` execs in place, so the PID we hold is the server's own) and stopped by that PID.
// Each run gets a fresh data folder; after SIGTERM the server's lease store is read back to check that
// every ACKed lease is in it.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { POOL, SUBNET, type BenchNetwork } from './netns.js';

export const KEA_BINARY = '/usr/sbin/kea-dhcp4';

export interface ServerOptions {
  readonly network: BenchNetwork;
  /** Fresh folder for this run: config, data, logs. */
  readonly dir: string;
  readonly leaseTime: number;
  /** netboot checkout whose bin/netboot.js (and dist/) runs. */
  readonly netbootDir: string;
  /** Write a V8 CPU profile of netboot here (node --cpu-prof). */
  readonly profileDir?: string;
}

export interface StoreCheck {
  /** Active leases in the store after shutdown. */
  readonly leases: number;
  /** ACKed (mac, ip) pairs absent from the store (or there with another address or state). */
  readonly missing: number;
  readonly error?: string;
}

export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process exits, for whatever reason. */
  readonly exited: Promise<void>;
  /** CPU seconds (user + system, all threads) used so far. */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<string>;
  /** Reads the lease store back (after stop). */
  checkStore(acked: ReadonlyArray<readonly [string, string]>): StoreCheck;
  /** The last lines the server wrote to stderr/stdout. */
  output(): string;
}

export function requireKea(): void {
  try {
    accessSync(KEA_BINARY, constants.X_OK);
  } catch {
    throw new Error(`${KEA_BINARY} is missing: run bench/dhcp/bench.sh (it installs kea-dhcp4-server) or apt-get install kea-dhcp4-server`);
  }
}

export async function startServer(name: string, opts: ServerOptions): Promise<RunningServer> {
  mkdirSync(opts.dir, { recursive: true });
  switch (name) {
    case 'netboot': return startNetboot(opts);
    case 'kea': return startKea(opts);
    default: throw new Error(`unknown server ${name} (netboot, kea)`);
  }
}

/** Full DHCP mode, TFTP off, HTTP on the server address, an empty image store, log level warn. */
async function startNetboot(opts: ServerOptions): Promise<RunningServer> {
  const { network, dir } = opts;
  const dataDir = join(dir, 'data');
  const config = join(dir, 'netboot.yaml');
  writeFileSync(config, [
    `dataDir: ${dataDir}`,
    `http: { enabled: true, host: ${network.serverAddress}, port: 80 }`,
    'tftp: { enabled: false }',
    `images: { dir: ${join(dir, 'images')} }`,
    'log: { level: warn }',
    'dhcp:',
    '  enabled: true',
    '  mode: full',
    `  interface: ${network.serverIf}`,
    `  serverAddress: ${network.serverAddress}`,
    `  subnet: ${SUBNET}`,
    `  pool: { start: ${POOL.start}, end: ${POOL.end} }`,
    `  leaseTime: ${opts.leaseTime}`,
    '',
  ].join('\n'));
  // The bench's own NETBOOT_* variables must not change the server's config.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NETBOOT_')));
  const nodeFlags = opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
  const child = spawnInNamespace(network.serverNs, process.execPath, [
    ...nodeFlags, join(opts.netbootDir, 'bin/netboot.js'), 'serve', '--config', config, '--data-dir', dataDir,
  ], env, opts.netbootDir);
  return running('netboot', child, (acked) => checkNetbootStore(join(dataDir, 'netboot.db'), acked));
}

/** kea-dhcp4 with a persistent memfile and no lease file cleanup, on the server-side veth only. */
async function startKea(opts: ServerOptions): Promise<RunningServer> {
  requireKea();
  const { network, dir } = opts;
  const leaseFile = join(dir, 'kea-leases4.csv');
  const config = join(dir, 'kea-dhcp4.json');
  writeFileSync(config, JSON.stringify({
    Dhcp4: {
      'interfaces-config': { interfaces: [network.serverIf], 'dhcp-socket-type': 'raw' },
      'lease-database': { type: 'memfile', persist: true, name: leaseFile, 'lfc-interval': 0 },
      'valid-lifetime': opts.leaseTime,
      authoritative: true,
      'subnet4': [{ id: 1, subnet: SUBNET, pools: [{ pool: `${POOL.start} - ${POOL.end}` }] }],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stderr' }], severity: 'WARN' }],
    },
  }, null, 2));
  // Its PID and logger lock files go to the run folder, not /run/kea (which may not exist).
  const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
  const child = spawnInNamespace(network.serverNs, KEA_BINARY, ['-c', config], env, dir);
  return running('kea', child, (acked) => checkKeaStore(leaseFile, acked));
}

function spawnInNamespace(ns: string, command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
}

async function running(
  name: string, child: ChildProcess, check: (acked: ReadonlyArray<readonly [string, string]>) => StoreCheck,
): Promise<RunningServer> {
  const lines: string[] = [];
  const keep = (d: Buffer): void => {
    lines.push(...d.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    name, pid, exited,
    cpuSeconds: () => cpuSeconds(pid),
    stop: (graceMs = 15_000) => stopChild(child, exited, graceMs),
    checkStore: check,
    output: () => lines.join('\n'),
  };
}

function cpuSeconds(pid: number): number {
  try {
    // /proc/PID/stat fields 14 and 15: utime and stime of all threads, in clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Only this PID, which we started. */
async function stopChild(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<string> {
  const describe = (): string => (child.signalCode ? `signal ${child.signalCode}` : `exit ${child.exitCode}`);
  if (child.exitCode !== null || child.signalCode !== null) return `had already ended (${describe()})`;
  child.kill('SIGTERM');
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
  return forced ? `did not stop within ${graceMs} ms of SIGTERM: killed` : describe();
}

function checkNetbootStore(file: string, acked: ReadonlyArray<readonly [string, string]>): StoreCheck {
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      // Table `leases` of src/store/migrations.ts; offers never count, only bound leases.
      const rows = db.prepare('SELECT mac, ip, state FROM leases').all() as Array<{ mac: string; ip: string; state: string }>;
      const bound = new Map(rows.filter((r) => r.state === 'bound').map((r) => [r.mac.toLowerCase(), r.ip]));
      return { leases: bound.size, missing: acked.filter(([mac, ip]) => bound.get(mac) !== ip).length };
    } finally {
      db.close();
    }
  } catch (err) {
    return { leases: 0, missing: acked.length, error: `${file}: ${(err as Error).message}` };
  }
}

/**
 * Kea's memfile is an append-only CSV (no cleanup with lfc-interval 0): one row per lease change,
 * the last row of an address wins; valid_lifetime 0 marks a deleted lease, state 0 a default
 * (assigned) one.
 */
function checkKeaStore(file: string, acked: ReadonlyArray<readonly [string, string]>): StoreCheck {
  try {
    const [header, ...rows] = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const columns = header!.split(',');
    const col = (name: string): number => {
      const at = columns.indexOf(name);
      if (at < 0) throw new Error(`no column ${name} in ${header}`);
      return at;
    };
    const [address, hwaddr, lifetime, state] = ['address', 'hwaddr', 'valid_lifetime', 'state'].map(col) as [number, number, number, number];
    const byAddress = new Map<string, string[]>();
    for (const row of rows) {
      const cells = row.split(',');
      byAddress.set(cells[address]!, cells);
    }
    const active = new Map<string, string>();
    for (const [ip, cells] of byAddress) {
      if (Number(cells[lifetime]) > 0 && Number(cells[state]) === 0) active.set(ip, cells[hwaddr]!.toLowerCase());
    }
    return { leases: active.size, missing: acked.filter(([mac, ip]) => active.get(ip) !== mac).length };
  } catch (err) {
    return { leases: 0, missing: acked.length, error: `${file}: ${(err as Error).message}` };
  }
}
