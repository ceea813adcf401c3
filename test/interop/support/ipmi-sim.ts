// A real IPMI 2.0 LAN BMC for the interop tests: OpenIPMI's ipmi_sim (Debian openipmi) on 127.0.0.1
// and a free UDP port, with a `chassis_control` program (../shared/recipes/bmc.md 1.4) so that
// `chassis bootdev` is accepted and reaches the "machine". The machine is not QEMU: it is a `sleep`
// whose arguments record the boot device (-boot once=n for pxe), and the power is on while it lives
// (bmc-chassis.sh: power:1 when vm.pid is alive). Everything lives in one temp folder; stop() ends
// ipmi_sim and the sleep by PID only, and the state folder is fresh per start (ipmi_sim keeps users
// there that would override lan.conf: recipe 1.5).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeIpmiSimConfig } from '../../../src/lab/bmc.js';

/** The recipe's chassis_control program, from the shared folder CI has (tests may use ../shared). */
export const bmcChassisScript = fileURLToPath(new URL('../../../../shared/recipes/bmc/bmc-chassis.sh', import.meta.url));

export interface IpmiSim {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The folder of the "machine": vm.pid, vm.args (what the last power-on started with), chassis.log. */
  readonly vmDir: string;
  readonly pid: number;
  /** The chassis program sleeps this long on `set power` while the file exists (a BMC that stalls mid-command). */
  slowPower(on: boolean): void;
  /** PID of the running "machine", if any. */
  machinePid(): number | undefined;
  /** The arguments the last power-on gave the machine (`-boot once=n` after bootdev pxe). */
  lastBootArgs(): string;
  stop(): Promise<void>;
}

/** A UDP port nothing listens on now (the kernel's pick, released at once: a small race we accept). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  const { port } = socket.address();
  await new Promise<void>((done) => socket.close(() => done()));
  return port;
}

export async function startIpmiSim(dir: string, options: { port?: number; user?: string; password?: string } = {}): Promise<IpmiSim> {
  const port = options.port ?? await freeUdpPort();
  const user = options.user ?? 'netboot';
  const password = options.password ?? 'bmc-Secret-42';
  const vmDir = join(dir, 'vm');
  mkdirSync(vmDir, { recursive: true });
  // The "machine": records its arguments, then lives until powered off (killed by bmc-chassis.sh).
  writeFileSync(join(vmDir, 'vm'), `#!/bin/sh\necho "$*" > '${vmDir}/vm.args'\nexec sleep 600\n`);
  chmodSync(join(vmDir, 'vm'), 0o755);
  // Our wrapper around the recipe's program: optionally slow on `set power`, to stall the BMC.
  writeFileSync(join(dir, 'chassis.sh'),
    `#!/bin/sh\nif [ "$2" = set ] && [ "$3" = power ] && [ -e '${dir}/slow' ]; then sleep 3; fi\nexec '${bmcChassisScript}' "$@"\n`);
  chmodSync(join(dir, 'chassis.sh'), 0o755);
  const args = writeIpmiSimConfig(dir, {
    name: 'nbtest', address: '127.0.0.1', port, user, password, chassisControl: `${join(dir, 'chassis.sh')} ${vmDir}`,
  });
  const child: ChildProcess = spawn('ipmi_sim', args, {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (child.pid === undefined) throw new Error('ipmi_sim did not start (apt-get install openipmi)');
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await waitForUdpListener(port, 5000);
  const machinePid = () => {
    try {
      const pid = Number(readFileSync(join(vmDir, 'vm.pid'), 'utf8').trim());
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  };
  return {
    port, user, password, vmDir, pid: child.pid,
    slowPower: (on) => (on ? writeFileSync(join(dir, 'slow'), '') : rmSync(join(dir, 'slow'), { force: true })),
    machinePid,
    lastBootArgs: () => (existsSync(join(vmDir, 'vm.args')) ? readFileSync(join(vmDir, 'vm.args'), 'utf8').trim() : ''),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      const vm = machinePid();
      if (vm !== undefined) process.kill(vm, 'SIGKILL'); // the sleep bmc-chassis.sh started for us
    },
  };
}

/** ipmi_sim binds its UDP port once it has read its config: wait until /proc/net/udp shows it. */
async function waitForUdpListener(port: number, timeoutMs: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (readFileSync('/proc/net/udp', 'utf8').includes(`0100007F${hex}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ipmi_sim did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
