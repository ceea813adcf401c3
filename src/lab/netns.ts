// A private boot network: a network namespace with a bridge (forward_delay 0, STP off, so ports
// forward at once: PXE ROMs give up before a 15 s STP learning phase ends) and tap devices for VMs.
// Nothing here touches an interface of the host.
import { execFileSync } from 'node:child_process';
import { LabError } from '../errors.js';

export interface LabNetworkOptions {
  /** Namespace name; must carry the owning PID as its last dash-separated part (see reapStaleNamespaces). */
  readonly name: string;
  readonly serverAddress: string;
  readonly prefixLength: number;
  readonly taps: readonly string[];
}

export const bridgeName = 'br0';

export class LabNetwork {
  private destroyed = false;

  private constructor(readonly options: LabNetworkOptions) {}

  get name(): string {
    return this.options.name;
  }

  static create(options: LabNetworkOptions): LabNetwork {
    const net = new LabNetwork(options);
    const ns = options.name;
    ip('netns', 'add', ns);
    try {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'add', bridgeName, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
      ip('-n', ns, 'addr', 'add', `${options.serverAddress}/${options.prefixLength}`, 'dev', bridgeName);
      ip('-n', ns, 'link', 'set', bridgeName, 'up');
      for (const tap of options.taps) {
        ip('-n', ns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
        ip('-n', ns, 'link', 'set', tap, 'master', bridgeName, 'up');
      }
    } catch (error) {
      net.destroy();
      throw error;
    }
    return net;
  }

  /** argv that runs `command` inside the namespace (ip netns exec replaces itself, so the PID is the command's). */
  exec(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.name, command, ...args] };
  }

  /** Deletes the namespace and with it the bridge and taps. Call after stopping its processes. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      ip('netns', 'del', this.name);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Removes namespaces with our prefix whose owning process (the PID at the end of the name) is gone
 * and that hold no process: what a killed lab or test run left behind.
 */
export function reapStaleNamespaces(prefix: string): string[] {
  const reaped: string[] = [];
  for (const ns of listNamespaces()) {
    if (!ns.startsWith(prefix)) continue;
    const owner = Number(ns.split('-').pop());
    if (!Number.isInteger(owner) || processAlive(owner)) continue;
    if (execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim() !== '') continue;
    try {
      ip('netns', 'del', ns);
      reaped.push(ns);
    } catch {
      // Raced with another reaper.
    }
  }
  return reaped;
}

export function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `ip` (iproute2); a failure is a LabError with its stderr. */
export function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (cause) {
    const stderr = (cause as { stderr?: Buffer }).stderr?.toString().trim();
    throw new LabError(`ip ${args.join(' ')} failed: ${stderr || (cause as Error).message} (the lab needs root and iproute2)`, { cause });
  }
}
