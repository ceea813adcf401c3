// A real IPMI 2.0 LAN BMC for the interop tests: OpenIPMI's ipmi_sim (Debian openipmi) on 127.0.0.1
// and a free UDP port, with the lab BMC's `chassis_control` program (src/lab/bmc.ts, after
// ../shared/recipes/bmc.md 1.4) so that `chassis bootdev` is accepted and reaches the "machine". The
// machine is not QEMU: it is a shell with a `sleep` whose arguments record the boot device (-boot
// once=n for pxe), and the power is on while it lives (the chassis program: power:1 while the process
// in vm.pid lives and names the VM folder). Everything lives in one temp folder; stop() ends ipmi_sim
// and the machine by PID only, and the state folder is fresh per start (ipmi_sim keeps users there
// that would override lan.conf: recipe 1.5).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chassisProgram, writeIpmiSimConfig } from '../../../src/lab/bmc.js';


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
  // The "machine": records its arguments, then lives until powered off (SIGTERM from the chassis
  // program). A shell that stays, not `exec sleep`: the program counts a PID as the machine only
  // while its command line names the VM folder (src/lab/bmc.ts: PIDs recycle).
  writeFileSync(join(vmDir, 'vm'), `#!/bin/sh\necho "$*" > '${vmDir}/vm.args'\ntrap 'kill $!; exit 0' TERM\nsleep 600 &\nwait\n`);
  chmodSync(join(vmDir, 'vm'), 0o755);
  // The lab BMC's chassis program, and our wrapper around it: optionally slow on `set power`, to stall the BMC.
  writeFileSync(join(dir, 'chassis-program.sh'), chassisProgram(process.execPath, join(dir, 'qmp.js')));
  chmodSync(join(dir, 'chassis-program.sh'), 0o755);
  writeFileSync(join(dir, 'chassis.sh'),
    `#!/bin/sh\nif [ "$2" = set ] && [ "$3" = power ] && [ -e '${dir}/slow' ]; then sleep 3; fi\nexec '${join(dir, 'chassis-program.sh')}' "$@"\n`);
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
      // Ours while its command line names the VM folder (a recycled PID does not; a zombie's is empty).
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(vmDir) ? pid : undefined;
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
      if (vm !== undefined) process.kill(vm, 'SIGTERM'); // the "machine" the chassis program started for us; it ends its sleep
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
