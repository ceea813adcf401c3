// The boot network of the interop tests: the server namespace with a bridge (src/lab/netns.ts) and
// one namespace per DHCP client, joined to the bridge by a veth pair. Each pair is created from inside
// the server namespace with its peer moved straight into the client's, so no interface of the host
// is ever made or touched, and deleting the namespaces deletes the pairs.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { LabNetwork, reapStaleNamespaces } from '../../../src/lab/netns.js';

export const testPrefix = 'nb-test-';

export interface ClientNamespace {
  readonly name: string;
  /** The client side of the veth pair, inside `name`. */
  readonly iface: string;
  readonly mac: string;
  /** argv that runs a command inside the namespace (`ip netns exec` execs it: the PID is the command's). */
  exec(command: string, args: readonly string[]): { command: string; args: string[] };
  /** IPv4 addresses on `iface` now. */
  addresses(): string[];
}

export interface BootNetwork {
  readonly server: LabNetwork;
  readonly clients: readonly ClientNamespace[];
  /** Kills what is left in our namespaces (by PID), then deletes them. Never throws. */
  destroy(): void;
}

/**
 * `nb-test-<tag>-srv-<pid>` and `nb-test-<tag>-c<i>-<pid>`: the PID last, so reapStaleNamespaces can
 * tell a leftover of a killed run from a live one.
 */
export function createBootNetwork(tag: string, serverAddress: string, prefixLength: number, clientCount: number): BootNetwork {
  reapStaleNamespaces(testPrefix);
  const server = LabNetwork.create({ name: `${testPrefix}${tag}-srv-${process.pid}`, serverAddress, prefixLength, taps: [] });
  const clients: ClientNamespace[] = [];
  const network: BootNetwork = { server, clients, destroy: () => destroy(server, clients) };
  try {
    for (let i = 0; i < clientCount; i++) {
      const name = `${testPrefix}${tag}-c${i}-${process.pid}`;
      // Locally administered (02:...) and fixed, so that store rows and logs are easy to match.
      const mac = `02:6e:62:00:00:${(i + 1).toString(16).padStart(2, '0')}`;
      ip('netns', 'add', name);
      clients.push(clientNamespace(name, mac));
      ip('-n', server.name, 'link', 'add', `vc${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
      ip('-n', server.name, 'link', 'set', `vc${i}`, 'master', 'br0', 'up');
      ip('-n', name, 'link', 'set', 'eth0', 'address', mac);
      ip('-n', name, 'link', 'set', 'lo', 'up');
      ip('-n', name, 'link', 'set', 'eth0', 'up');
    }
  } catch (error) {
    network.destroy();
    throw error;
  }
  return network;
}

function clientNamespace(name: string, mac: string): ClientNamespace {
  return {
    name, iface: 'eth0', mac,
    exec: (command, args) => ({ command: 'ip', args: ['netns', 'exec', name, command, ...args] }),
    addresses: () => {
      const out = execFileSync('ip', ['-n', name, '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
      const links = JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
      return links.flatMap((link) => (link.addr_info ?? []).map((a) => a.local));
    },
  };
}

/** Adds a route for the limited broadcast so that a plain UDP socket can send it from an address-less interface. */
export function routeBroadcast(client: ClientNamespace): void {
  ip('-n', client.name, 'route', 'add', '255.255.255.255/32', 'dev', client.iface);
}

function destroy(server: LabNetwork, clients: readonly ClientNamespace[]): void {
  // The tests stop their processes by PID first; anything still inside a namespace here is a
  // descendant of one of them (dhcpcd's privilege-separation helpers, say) that outlived it, and
  // `ip netns del` alone would leave it running with the namespace.
  for (const name of [...clients.map((c) => c.name), server.name]) {
    for (const pid of namespacePids(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    try {
      ip('netns', 'del', name);
    } catch {
      // Never created, or already gone.
    }
  }
  server.destroy();
}

export function namespacePids(name: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Why these tests cannot run here (not root, a client missing), or undefined when they can. */
export function missingPrerequisites(binaries: ReadonlyArray<{ path: string; debianPackage: string }>): string | undefined {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not root (network namespaces need root)');
  for (const { path, debianPackage } of [{ path: '/bin/ip', debianPackage: 'iproute2' }, ...binaries]) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      problems.push(`${path} is missing (Debian package ${debianPackage}; scripts/install-deps.sh installs it)`);
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (cause) {
    const stderr = (cause as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (cause as Error).message}`, { cause });
  }
}
