// A lab machine behind a real IPMI 2.0 BMC: OpenIPMI's ipmi_sim (Debian openipmi), its LAN side on
// an address of the lab's namespace, and the VM's QEMU run by the BMC, so that `netboot` powers the
// machine exactly as it powers hardware (src/power/ipmi.ts: ipmitool lanplus). Measured configs from
// ../shared/recipes/bmc.md 1.1-1.6, carried into the project here (src/ may not reach ../shared):
// - ipmi_sim hands power and the boot device to a `chassis_control` program (recipe 1.4, "mode B"):
//   only a program sees `chassis bootdev pxe`; the plain `startcmd` rejects it. The program below
//   starts QEMU on power on (with `-boot once=n` after bootdev pxe, used up by that boot, as a BMC's
//   one-shot flag is), kills it on power off, and sends QMP system_reset / system_powerdown for
//   reset and soft. The power is on while that QEMU lives.
// - In-band, the VM has a KCS system interface (`isa-ipmi-kcs` + `ipmi-bmc-extern`) whose chardev
//   connects to ipmi_sim on 127.0.0.1 of the same namespace (recipe 1.2, last point): the micro
//   image's ipmi_si finds it through ACPI and /dev/ipmi0 appears (recipe 1.5), which is what
//   commissioning's 30-bmc-config creates the appliance's BMC user through.
// - A `lan_config_program` answers the LAN parameters: without one `lan print` says 0.0.0.0 and
//   the machine could not tell anyone where its BMC is (recipe 1.5).
// - The state folder is fresh at every start: users created in-band are saved there and would
//   override lan.conf's users at the next start (recipe 1.5).
// - ipmi_sim is single-threaded and waits for the program (popen): it must answer well within 1 s
//   or ipmitool retransmits and the action runs twice (recipe 1.6, 3), so QEMU is started fully
//   detached and the off path waits at most 0.6 s.
// Everything is stopped by PID: ipmi_sim (which we started) and the QEMU whose PID the program wrote.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { Launched } from './launcher.js';
import type { LabNetwork } from './netns.js';

export interface LabBmcOptions {
  /** Folder for the configs, ipmi_sim's state, and the VM's files (vm/: vm.pid, vm.out = serial console). */
  readonly dir: string;
  /** The BMC's LAN address: an address of the lab namespace (never of a real interface). */
  readonly address: string;
  /** UDP port of the RMCP+ listener; 623, the standard one, when absent. */
  readonly port?: number;
  /** The LAN administrator the BMC ships with (user slot 2), as a site's BMC has one. */
  readonly user: string;
  readonly password: string;
  /** What `lan print` reports as the BMC's MAC (not the VM's NIC). */
  readonly mac: string;
  /** TCP port on the namespace's 127.0.0.1 where the VM's KCS interface reaches ipmi_sim. */
  readonly systemPort: number;
  /** The VM: QEMU and its arguments, without the IPMI devices and QMP (added here). */
  readonly qemu: { readonly command: string; readonly args: readonly string[] };
  /** Upper bound of ipmi_sim's and each QEMU's life, s: a crashed test run leaves nothing running for long. */
  readonly lifetimeSeconds?: number;
}

/** The BMC's listener, the chardev the VM's KCS device speaks through, and QMP for reset and soft. */
export function ipmiBmcQemuArgs(systemPort: number, qmpSocket: string): string[] {
  return [
    '-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${systemPort},reconnect=10`,
    '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
    '-device', 'isa-ipmi-kcs,bmc=bmc0',
    '-qmp', `unix:${qmpSocket.replaceAll(',', ',,')},server=on,wait=off`,
  ];
}

const credential = /^[A-Za-z0-9._@%+=-]{1,20}$/;
const defaultLifetimeSeconds = 3600;

export class LabBmc {
  private constructor(
    readonly options: LabBmcOptions,
    private readonly sim: Launched,
  ) {}

  get address(): string {
    return this.options.address;
  }

  get port(): number {
    return this.options.port ?? 623;
  }

  get pid(): number {
    return this.sim.pid;
  }

  get running(): boolean {
    return this.sim.running;
  }

  /** The VM's folder: vm.pid, vm.out (its serial console, appended boot after boot), chassis.log. */
  get vmDir(): string {
    return join(this.options.dir, 'vm');
  }

  /** Starts ipmi_sim inside the namespace with the VM powered off, and waits until its LAN side listens. */
  static async start(network: LabNetwork, options: LabBmcOptions): Promise<LabBmc> {
    const { dir } = options;
    const vmDir = join(dir, 'vm');
    mkdirSync(vmDir, { recursive: true });
    const lifetime = options.lifetimeSeconds ?? defaultLifetimeSeconds;
    writeExecutable(join(dir, 'chassis.sh'), chassisProgram(process.execPath, join(dir, 'qmp.js')));
    writeFileSync(join(dir, 'qmp.js'), qmpCommand);
    const qemu = [options.qemu.command, ...options.qemu.args, ...ipmiBmcQemuArgs(options.systemPort, join(vmDir, 'qmp.sock'))];
    // `timeout` passes SIGTERM on to QEMU (recipe 1.2) and bounds the life of a leaked VM.
    writeExecutable(join(vmDir, 'vm'), `#!/bin/sh\nexec timeout ${lifetime} ${qemu.map(shellQuote).join(' ')} "$@"\n`);
    const simArgs = writeIpmiSimConfig(dir, {
      name: 'netboot-lab', address: options.address, port: options.port ?? 623, user: options.user, password: options.password,
      lan: { ip: options.address, mac: options.mac }, systemPort: options.systemPort, chassisControl: `${join(dir, 'chassis.sh')} ${vmDir}`,
    });

    const { command, args } = network.exec('timeout', [String(lifetime), 'ipmi_sim', ...simArgs]);
    const sim = await Launched.start({ name: `ipmi_sim ${options.address}`, command, args, logFile: join(dir, 'ipmi_sim.log') });
    const bmc = new LabBmc(options, sim);
    try {
      await bmc.waitListening(10_000);
    } catch (error) {
      await bmc.stop();
      throw error;
    }
    return bmc;
  }

  /** PID of the VM's QEMU (its `timeout` wrapper) while it runs: the power is on. */
  vmPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.vmDir, 'vm.pid'), 'utf8').trim());
      // Ours only if its command line names our VM folder (a recycled PID would not).
      if (!Number.isInteger(pid) || pid <= 0 || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.vmDir)) return undefined;
      return pid;
    } catch {
      return undefined;
    }
  }

  /** The QEMU arguments the last power-on added (`-boot once=n` after bootdev pxe), from chassis.log. */
  powerOns(): string[] {
    return this.chassisLog().filter((line) => line.op === 'start').map((line) => line.rest);
  }

  /** What ipmi_sim asked the chassis program, one entry per call (get power, set boot pxe, ...). */
  chassisLog(): { at: string; op: string; rest: string }[] {
    const file = join(this.vmDir, 'chassis.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
      const [seconds = '', op = '', ...rest] = line.split(' ');
      return { at: new Date(Number(seconds) * 1000).toISOString(), op, rest: rest.join(' ') };
    });
  }

  /** The last lines of the VM's serial console (all boots). */
  consoleTail(lines = 40): string {
    const file = join(this.vmDir, 'vm.out');
    // eslint-disable-next-line no-control-regex -- ESC is exactly what is being removed
    return existsSync(file) ? readFileSync(file, 'utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '').split('\n').slice(-lines).join('\n') : '';
  }

  /** Stops ipmi_sim, then the VM it may have left running; both by PID. */
  async stop(): Promise<void> {
    await this.sim.stop(2000);
    const pid = this.vmPid();
    if (pid === undefined) return;
    signal(pid, 'SIGTERM');
    for (let i = 0; i < 20 && this.vmPid() !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
    if (this.vmPid() !== undefined) signal(pid, 'SIGKILL');
  }

  /** ipmi_sim binds its UDP port once it has read its config; /proc/<pid>/net/udp is its namespace's table. */
  private async waitListening(timeoutMs: number): Promise<void> {
    // /proc/net/udp writes an IPv4 address as the hex of its 32 bits in host (little-endian) order.
    const hexAddress = this.address.split('.').reverse().map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0')).join('');
    const local = `${hexAddress}:${this.port.toString(16).toUpperCase().padStart(4, '0')}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.sim.running) throw new LabError(`ipmi_sim exited before listening on ${this.address}:${this.port}:\n${this.sim.tail()}`);
      try {
        const table = readFileSync(`/proc/${this.sim.pid}/net/udp`, 'utf8');
        if (table.split('\n').some((line) => line.trim().split(/\s+/)[1] === local)) return;
      } catch {
        // Not yet exec'd into the namespace, or just exited (checked above next round).
      }
      if (Date.now() > deadline) throw new LabError(`ipmi_sim did not listen on ${this.address}:${this.port} within ${timeoutMs / 1000} s:\n${this.sim.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One ipmi_sim BMC's configuration (lan.conf, ipmi_lan(5)); tests on loopback use it too. */
export interface IpmiSimConfig {
  /** The BMC's name in lan.conf (its state folder is named after it). */
  readonly name: string;
  /** Where its LAN side (RMCP/RMCP+) listens. */
  readonly address: string;
  readonly port: number;
  /** The LAN administrator, user slot 2; lan.conf quotes it with ". */
  readonly user: string;
  readonly password: string;
  /** What `lan print` reports, through a lan_config_program; without it the BMC says 0.0.0.0. */
  readonly lan?: { readonly ip: string; readonly mac: string };
  /** TCP port on 127.0.0.1 where a VM's system interface (ipmi-bmc-extern) connects. */
  readonly systemPort?: number;
  /** The chassis_control program's command line: power and boot device (recipe 1.4). */
  readonly chassisControl?: string;
}

/**
 * Writes ipmi_sim's files into DIR: bmc.emu (one BMC at IPMB 0x20, recipe 1.1), lan.conf, with `lan`
 * lan.vals and lan-control.sh, and an empty state/ (users made in-band are kept there and would
 * override lan.conf's at the next start: recipe 1.5). Returns ipmi_sim's arguments.
 */
export function writeIpmiSimConfig(dir: string, config: IpmiSimConfig): string[] {
  for (const [what, value] of [['user', config.user], ['password', config.password]] as const) {
    // lan.conf quotes values with "; IPMI 2.0 passwords are 20 bytes at most (1.5: 16).
    if (!credential.test(value)) throw new LabError(`an ipmi_sim BMC's ${what} must be 1-20 of [A-Za-z0-9._@%+=-]`);
  }
  const state = join(dir, 'state');
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(dir, 'bmc.emu'), [
    'mc_setbmc 0x20',
    'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
    'sel_enable 0x20 1000 0x0a',
    'mc_enable 0x20', '',
  ].join('\n'));
  if (config.lan) {
    writeFileSync(join(dir, 'lan.vals'), [
      `ip_addr:${config.lan.ip}`, 'ip_addr_src:static', `mac_addr:${config.lan.mac}`,
      'subnet_mask:255.255.255.0', 'default_gw_ip_addr:0.0.0.0', '',
    ].join('\n'));
    writeExecutable(join(dir, 'lan-control.sh'), lanControlProgram);
  }
  const auths = 'none md2 md5 straight';
  writeFileSync(join(dir, 'lan.conf'), [
    `name "${config.name}"`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${config.address} ${config.port}`,
    '    priv_limit admin',
    ...['callback', 'user', 'operator', 'admin'].map((level) => `    allowed_auths_${level} ${auths}`),
    '    guid a123456789abcdefa123456789abcdef',
    ...(config.lan ? [`    lan_config_program "${join(dir, 'lan-control.sh')} ${join(dir, 'lan.vals')}"`] : []),
    '  endlan',
    ...(config.systemPort !== undefined ? [`  serial 15 127.0.0.1 ${config.systemPort} codec VM`] : []),
    ...(config.chassisControl ? [`  chassis_control "${config.chassisControl}"`] : []),
    `  user 2 true "${config.user}" "${config.password}" admin 10 ${auths}`, '',
  ].join('\n'));
  return ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', state, '-n'];
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone meanwhile.
  }
}

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * ipmi_sim's lan_config_program (recipes/bmc/bmc-lancontrol.sh): `get KEY...` answers KEY:value
 * from a key:value file, `set KEY VALUE...` stores, `check` accepts.
 */
const lanControlProgram = `#!/bin/sh
# ipmi_sim lan_config_program, written by netboot's lab (src/lab/bmc.ts): LAN parameters from a key:value file.
vals=$1; op=$2; shift 2
case $op in
  get) for k in "$@"; do v=$(sed -n "s/^$k://p" "$vals" | tail -n 1)
         case $k in *mac*) d=00:00:00:00:00:00 ;; ip_addr_src) d=static ;; *) d=0.0.0.0 ;; esac
         echo "$k:\${v:-$d}"; done ;;
  set) while [ $# -ge 2 ]; do sed -i "/^$1:/d" "$vals"; echo "$1:$2" >> "$vals"; shift 2; done ;;
  check) exit 0 ;;
  *) echo "bad op $op"; exit 1 ;;
esac
`;

/**
 * ipmi_sim's chassis_control program (recipes/bmc/bmc-chassis.sh). Called as `PROG VMDIR get power
 * boot`, `PROG VMDIR set power 1|0`, `set reset 1`, `set shutdown 1`, `set boot pxe|default|cdrom|bios|none`,
 * `set identify ...`. Every call goes to VMDIR/chassis.log; a power-on as "start <boot args>".
 */
export function chassisProgram(node: string, qmpScript: string): string {
  return `#!/bin/sh
# ipmi_sim chassis_control program, written by netboot's lab (src/lab/bmc.ts): QEMU is the machine.
d=$1; op=$2; shift 2
# The power is on while the QEMU we started lives. PIDs recycle (pid_max is 32768 on many hosts and
# each call of this program forks a few): a PID counts only while its command line names our VM
# folder, or a recycled one would read as "on", and a power-off would signal a stranger.
alive() {
  p=$(cat "$d/vm.pid" 2>/dev/null) && [ -n "$p" ] && [ "$p" != $$ ] || return 1
  case $(tr '\\000' ' ' < "/proc/$p/cmdline" 2>/dev/null) in *"$d/"*) return 0 ;; esac
  return 1
}
qmp() { timeout 2 ${shellQuote(node)} ${shellQuote(qmpScript)} "$d/qmp.sock" "$1" 2>>"$d/chassis.log"; }
echo "$(date +%s.%N) $op $*" >> "$d/chassis.log"
case $op in
get) for p in "$@"; do case $p in
       power) if alive; then echo power:1; else echo power:0; fi ;;
       boot) echo "boot:$(cat "$d/bootdev" 2>/dev/null || echo none)" ;;
       *) echo "unsupported get $p"; exit 1 ;; esac; done ;;
set) while [ $# -ge 2 ]; do p=$1 v=$2; shift 2; case $p in
       power) if [ "$v" = 1 ]; then
                alive && continue
                case $(cat "$d/bootdev" 2>/dev/null) in pxe) b="-boot once=n" ;; default) b="-boot once=c" ;; cdrom) b="-boot once=d" ;; *) b="" ;; esac
                rm -f "$d/bootdev" "$d/qmp.sock"
                echo "$(date +%s.%N) start $b" >> "$d/chassis.log"
                # Fully detached: ipmi_sim reads this program's stdout until EOF (recipe 1.6, 3).
                # shellcheck disable=SC2086 # $b is two words or none
                setsid "$d/vm" $b </dev/null >>"$d/vm.out" 2>&1 &
                echo $! > "$d/vm.pid"
              else
                alive && kill -TERM "$p"
                for i in 1 2 3; do alive || break; sleep 0.2; done
              fi ;;
       reset) alive && qmp system_reset ;;
       shutdown) alive && qmp system_powerdown ;;
       boot) echo "$v" > "$d/bootdev" ;;
       identify) ;;
       *) echo "unsupported set $p"; exit 1 ;; esac; done ;;
check) exit 1 ;;
*) echo "bad op $op"; exit 1 ;;
esac
exit 0
`;
}

/** One QMP command (argv: socket, command), for reset and soft: greeting, capabilities, command. */
const qmpCommand = `// Written by netboot's lab (src/lab/bmc.ts): node qmp.js SOCKET COMMAND
const [socket, command] = process.argv.slice(2);
const s = require('node:net').connect(socket);
let buffer = '';
let step = 0;
s.setTimeout(1500, () => process.exit(1));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.on('data', (data) => {
  buffer += data;
  for (let i = buffer.indexOf('\\n'); i >= 0; i = buffer.indexOf('\\n')) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    if (line.includes('"event"')) continue;
    if (step === 0) s.write('{"execute":"qmp_capabilities"}\\n');
    else if (step === 1) s.write(JSON.stringify({ execute: command }) + '\\n');
    else { console.error(line); process.exit(line.includes('"return"') ? 0 : 1); }
    step++;
  }
});
`;
