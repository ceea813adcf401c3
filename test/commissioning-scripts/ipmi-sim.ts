// One OpenIPMI ipmi_sim BMC on a loopback UDP port, configured as the lab's BMCs are
// (src/lab/bmc.ts writeIpmiSimConfig) but with no VM behind it: LAN users and channels only, which
// is all an in-band BMC configuration script talks to. Its LAN address comes from a
// lan_config_program (without one `lan print` says 0.0.0.0: recipes/bmc.md 1.5). Started by PID, stopped by PID; the state folder is
// fresh for every instance because users.mc20 there overrides lan.conf's users on restart.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { writeIpmiSimConfig } from '../../src/lab/bmc.js';

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
/** ipmi_sim (Debian openipmi) and ipmitool. */
export const ipmiSimAvailable = has('ipmi_sim') && has('ipmitool');

export const ADMIN = { user: 'admin', password: 'secret' } as const;

export interface IpmiSimOptions {
  /** What `lan print` reports; 0.0.0.0 is what a BMC with no address says. */
  readonly ip?: string;
  readonly mac?: string;
}

/** A free UDP port on 127.0.0.1 (bound and released: the small race is acceptable for a test). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolvePromise) => socket.bind(0, '127.0.0.1', resolvePromise));
  const { port } = socket.address();
  await new Promise<void>((resolvePromise) => socket.close(resolvePromise));
  return port;
}

/** Whether something listens on 127.0.0.1:PORT/udp, from /proc/net/udp (address and port in hex). */
function udpBound(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((line) => line.trim().split(/\s+/)[1] === local);
}

export class IpmiSim {
  private constructor(readonly port: number, private readonly child: ChildProcess, private readonly log: () => string) {}

  /** Starts ipmi_sim with its files in DIR (which must be empty) and waits until it listens. */
  static async start(dir: string, options: IpmiSimOptions = {}): Promise<IpmiSim> {
    const port = await freeUdpPort();
    const args = writeIpmiSimConfig(dir, {
      name: 'bmctest', address: '127.0.0.1', port, user: ADMIN.user, password: ADMIN.password,
      lan: { ip: options.ip ?? '10.0.0.5', mac: options.mac ?? '52:54:00:AA:BB:CC' },
    });
    const child = spawn('ipmi_sim', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    const sim = new IpmiSim(port, child, () => log);
    // Ready when its UDP port is bound, raced against an early exit (a bad config ends it at once).
    const deadline = Date.now() + 10_000;
    while (!udpBound(port)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ipmi_sim exited before listening on ${port}:\n${log}`);
      if (Date.now() > deadline) {
        await sim.stop();
        throw new Error(`ipmi_sim did not listen on 127.0.0.1:${port} within 10 s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return sim;
  }

  /**
   * ipmitool over LAN (IPMI 2.0 RMCP+) as USER. Cipher suite 3 named: without -C, ipmitool first asks
   * for the cipher suites, which ipmi_sim does not answer, and waits 10 s before falling back.
   */
  ipmitool(user: string = ADMIN.user): string[] {
    return ['ipmitool', '-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(this.port), '-U', user, '-E'];
  }

  /** Runs ipmitool as USER with PASSWORD (through IPMI_PASSWORD, not the command line). */
  run(user: string, password: string, ...args: string[]): { status: number | null; output: string } {
    const [command, ...rest] = this.ipmitool(user);
    const r = spawnSync(command!, [...rest, ...args], { encoding: 'utf8', env: { ...process.env, IPMI_PASSWORD: password }, timeout: 30_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  get output(): string { return this.log(); }

  /** SIGTERM to this ipmi_sim only, SIGKILL if it is still there after 2 s. */
  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
