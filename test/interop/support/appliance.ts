// `netboot serve` as a real process inside the server namespace (as src/lab/lab.ts starts it), and
// read-only views of its SQLite store for the assertions.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import yaml from 'js-yaml';
import { Launched } from '../../../src/lab/launcher.js';
import type { LabNetwork } from '../../../src/lab/netns.js';
import { cliEntry } from '../../../src/paths.js';

export interface ApplianceSetup {
  readonly dir: string;
  readonly serverAddress: string;
  readonly subnet: string;
  readonly pool: { readonly start: string; readonly end: string };
  readonly leaseTime: number;
}

export const dataDirOf = (dir: string): string => join(dir, 'data');

/** Writes the config (once per dir) and starts the appliance; resolves when it serves. */
export async function startAppliance(network: LabNetwork, setup: ApplianceSetup): Promise<Launched> {
  if (!existsSync(cliEntry)) throw new Error(`${cliEntry} is missing: run \`npm run build\` first`);
  const configFile = join(setup.dir, 'netboot.yaml');
  if (!existsSync(configFile)) {
    writeFileSync(configFile, yaml.dump({
      dataDir: dataDirOf(setup.dir),
      log: { level: 'info' },
      images: { dir: join(setup.dir, 'images') },
      // Port 80 of the server namespace, not of the host; TFTP is not what these tests are about.
      http: { host: setup.serverAddress, port: 80 },
      tftp: { enabled: false },
      dhcp: {
        enabled: true, mode: 'full', interface: 'br0', serverAddress: setup.serverAddress, subnet: setup.subnet,
        pool: setup.pool, router: setup.serverAddress, dns: [setup.serverAddress], domain: 'interop.test',
        leaseTime: setup.leaseTime,
      },
    }));
  }
  const { command, args } = network.exec(process.execPath, [cliEntry, 'serve', '--config', configFile]);
  const appliance = await Launched.start({ name: 'netboot serve', command, args, logFile: join(setup.dir, 'serve.log') });
  try {
    await appliance.waitFor(/netboot is serving/, 30_000, 'the appliance to serve');
  } catch (error) {
    await appliance.stop(1000);
    throw error;
  }
  return appliance;
}

export interface LeaseRow {
  readonly mac: string;
  readonly ip: string;
  readonly state: string;
  readonly expires_at: number;
}

/** A short read-only connection: the appliance keeps writing (WAL lets a reader in beside it). */
function query<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'netboot.db'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function leases(dataDir: string): LeaseRow[] {
  return query<LeaseRow>(dataDir, 'SELECT mac, ip, state, expires_at FROM leases ORDER BY mac');
}

export function leaseOf(dataDir: string, mac: string): LeaseRow | undefined {
  return query<LeaseRow>(dataDir, 'SELECT mac, ip, state, expires_at FROM leases WHERE mac = ?', mac)[0];
}

/** How many machine events of this type the appliance recorded for the MAC (dhcp-ack, ...). */
export function eventCount(dataDir: string, mac: string, type: string): number {
  return query<{ n: number }>(dataDir, 'SELECT count(*) AS n FROM events WHERE mac = ? AND type = ?', mac, type)[0]!.n;
}

/** Polls `check` until it returns a value (not undefined) or the time is up; `what` names the wait. */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => T | undefined, detail?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether the dotted-quad `ip` lies in [start, end]. */
export function inRange(ip: string, range: { start: string; end: string }): boolean {
  const n = (a: string) => a.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return n(ip) >= n(range.start) && n(ip) <= n(range.end);
}
