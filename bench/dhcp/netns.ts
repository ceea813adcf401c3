// The benchmark's private network: a server namespace and a client namespace joined by a veth pair
// that is created inside the server namespace and never exists on the host, so no DHCP packet of this
// benchmark can reach a host interface. Names: nb-bench-srv-<tag>, nb-bench-cli-<tag>, where <tag>
// is the PID of bench.sh (or of bench.ts when run directly).
import { execFileSync } from 'node:child_process';

export interface BenchNetwork {
  readonly serverNs: string;
  readonly clientNs: string;
  /** Interface names inside their namespaces. */
  readonly serverIf: string;
  readonly clientIf: string;
  readonly serverAddress: string;
  /** Deletes both namespaces (idempotent). Processes inside must have been stopped first. */
  remove(): void;
}

export const SERVER_ADDRESS = '10.214.0.1';
export const PREFIX_LENGTH = 16;
export const SUBNET = '10.214.0.0/16';
export const POOL = { start: '10.214.1.0', end: '10.214.200.255' } as const;

const PREFIX = 'nb-bench-';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function listNamespaces(): string[] {
  return ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]!).filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Namespaces of earlier runs whose bench process is gone (killed with SIGKILL): removed, after
 * stopping, by PID, the processes still inside them (only ever servers and load generators this
 * benchmark started). Namespaces of a live run are left alone.
 */
export function removeStaleNamespaces(log: (line: string) => void): void {
  for (const ns of listNamespaces()) {
    if (!ns.startsWith(PREFIX)) continue;
    const owner = Number(ns.split('-').at(-1));
    if (!Number.isInteger(owner) || owner <= 0 || pidAlive(owner)) continue;
    for (const pid of namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    log(`removing stale namespace ${ns} (its bench process ${owner} is gone)`);
    tryIp('netns', 'delete', ns);
  }
}

export function namespacePids(ns: string): number[] {
  try {
    return ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // best effort: cleanup paths
  }
}

/**
 * `clientAddress`: an address for the client end (bench/http's TCP clients need one); without it the
 * client end has none, as a DHCP client has none.
 */
export function createNetwork(tag: string, clientAddress?: string): BenchNetwork {
  const serverNs = `${PREFIX}srv-${tag}`;
  const clientNs = `${PREFIX}cli-${tag}`;
  const serverIf = 'nbb-srv0';
  const clientIf = 'nbb-cli0';
  const network: BenchNetwork = {
    serverNs, clientNs, serverIf, clientIf, serverAddress: SERVER_ADDRESS,
    remove: () => {
      tryIp('netns', 'delete', clientNs);
      tryIp('netns', 'delete', serverNs);
    },
  };
  try {
    ip('netns', 'add', serverNs);
    ip('netns', 'add', clientNs);
    // Both ends are born inside the namespaces (ip -n): the pair never appears on the host.
    ip('-n', serverNs, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', clientIf, 'netns', clientNs);
    ip('-n', serverNs, 'link', 'set', 'lo', 'up');
    ip('-n', clientNs, 'link', 'set', 'lo', 'up');
    ip('-n', serverNs, 'addr', 'add', `${SERVER_ADDRESS}/${PREFIX_LENGTH}`, 'dev', serverIf);
    ip('-n', serverNs, 'link', 'set', serverIf, 'up');
    if (clientAddress) ip('-n', clientNs, 'addr', 'add', `${clientAddress}/${PREFIX_LENGTH}`, 'dev', clientIf);
    ip('-n', clientNs, 'link', 'set', clientIf, 'up');
    // Without an address on the client side, a route is still needed for the
    // kernel to send to 255.255.255.255 from an unbound source (0.0.0.0). Inside the client
    // namespace only.
    ip('-n', clientNs, 'route', 'add', 'default', 'dev', clientIf);
  } catch (err) {
    network.remove();
    throw err;
  }
  return network;
}
