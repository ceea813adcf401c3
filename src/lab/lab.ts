// The lab: a private boot network with the appliance serving inside it, and VMs that PXE-boot from
// it. Used by `netboot lab` and by the end-to-end tests in test/qemu.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { LabError } from '../errors.js';
import { openStore, type Store } from '../store/index.js';
import type { Machine } from '../machines/model.js';
import { cliEntry } from '../paths.js';
import { LabBmc } from './bmc.js';
import { Launched } from './launcher.js';
import { bridgeName, ip, LabNetwork, reapStaleNamespaces } from './netns.js';
import { createDiskImage, prepareFirmware, qemuArgs, qemuBinary, type VmSpec } from './qemu.js';

export interface LabOptions {
  /** Namespace prefix; the PID and a counter are appended. */
  readonly prefix?: string;
  readonly imagesDir: string;
  readonly vmCount?: number;
  readonly keepDir?: boolean;
  readonly logLevel?: string;
  /** config `boot.uefiLoader` for the appliance: shim for the Secure Boot chain. */
  readonly uefiLoader?: 'snponly' | 'ipxe' | 'shim';
  /** config `dhcp.mode`; proxy needs a site DHCP server on the bridge (site-dhcp.ts). */
  readonly dhcpMode?: 'full' | 'proxy';
  readonly onApplianceLine?: (line: string) => void;
  /** config `images.commission`: the commissioning environment (micro, or debian with cloud-init). */
  readonly commissionImage?: string;
  /** config `lifecycle` (timeouts in seconds), e.g. short ones for tests of machines that die. */
  readonly lifecycle?: Readonly<Record<string, number>>;
}

const server = {
  address: '10.213.0.1', prefix: 24, subnet: '10.213.0.0/24', poolStart: '10.213.0.100', poolEnd: '10.213.0.199',
  /** Lab BMCs (startBmcMachine): .50 for tap0, .51 for tap1, ...; outside the pool and site DHCP's .2. */
  bmcBase: '10.213.0.50',
};
/** The boot network's addressing; a site DHCP server for proxy mode takes .2 and hands out the pool. */
export const labAddresses: Readonly<typeof server> = server;
let labCounter = 0;

export class Lab {
  private readonly vms: Launched[] = [];
  private readonly bmcs: LabBmc[] = [];
  private readerStore: Store | undefined;

  private constructor(
    readonly network: LabNetwork,
    readonly dir: string,
    private current: Launched,
    private readonly options: LabOptions,
  ) {}

  /** The running appliance process (a new one after restartAppliance). */
  get appliance(): Launched {
    return this.current;
  }

  /** Stops the appliance (SIGTERM, by PID): the VMs keep running without it. */
  async stopAppliance(): Promise<void> {
    await this.readerStore?.close();
    this.readerStore = undefined;
    await this.current.stop();
  }

  /** Starts the appliance again on the same data directory, after stopAppliance. */
  async startAppliance(): Promise<void> {
    if (this.current.running) throw new LabError('the appliance is already running');
    this.current = await launchAppliance(this.network, this.dir, this.options);
  }

  get configFile(): string {
    return join(this.dir, 'netboot.yaml');
  }

  /** Where VM <index> started with `chassis` takes QMP commands (the qemu power driver's socket). */
  qmpSocket(index = 0): string {
    return join(this.dir, `qmp-${index}.sock`);
  }

  /**
   * Runs `netboot <args>` inside the lab's namespace with the lab's config: the operator API listens
   * on the namespace's loopback, so this is how the lab (and its tests) act as the operator.
   */
  cli(args: readonly string[]): string {
    const { command, args: full } = this.network.exec(process.execPath, [cliEntry, '--config', this.configFile, ...args]);
    try {
      return execFileSync(command, full, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new LabError(`netboot ${args.join(' ')} failed: ${(stderr || stdout || (error as Error).message).trim()}`);
    }
  }

  /** Polls the store until the machine is in one of `states`; fails early when the appliance or the VM exits. */
  async waitForState(id: string, states: readonly string[], timeoutMs: number, vm?: Launched): Promise<Machine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const machine = this.store().machines.get(id);
      if (machine && states.includes(machine.state)) return machine;
      if (!this.appliance.running) throw new LabError(`the appliance exited; its log:\n${this.appliance.tail(40)}`);
      if (vm && !vm.running) throw new LabError(`machine ${id} is ${machine?.state ?? 'gone'}: its VM exited; serial console:\n${vm.tail(40)}`);
      if (Date.now() > deadline) {
        throw new LabError(`machine ${id} is ${machine?.state ?? 'gone'}, not ${states.join(' or ')}, after ${timeoutMs / 1000} s${vm ? `; serial console:\n${vm.tail(40)}` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get publicUrl(): string {
    return `http://${server.address}`;
  }

  static async start(options: LabOptions): Promise<Lab> {
    if (!existsSync(cliEntry)) throw new LabError(`${cliEntry} is missing: run \`npm run build\` first`);
    const prefix = options.prefix ?? 'nb-lab';
    reapStaleNamespaces(`${prefix}-`);
    const taps = Array.from({ length: options.vmCount ?? 1 }, (_, i) => `tap${i}`);
    // The PID ends the name so that a later run can tell a leftover from a live lab.
    const network = LabNetwork.create({ name: `${prefix}-${labCounter++}-${process.pid}`, serverAddress: server.address, prefixLength: server.prefix, taps });
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    let appliance: Launched | undefined;
    try {
      writeFileSync(join(dir, 'netboot.yaml'), yaml.dump(labConfig(join(dir, 'data'), options)));
      appliance = await launchAppliance(network, dir, options);
      return new Lab(network, dir, appliance, options);
    } catch (error) {
      await appliance?.stop();
      network.destroy();
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Boots a VM on tap<index> (it PXE-boots from the appliance) and returns its running QEMU. */
  async bootVm(spec: Omit<VmSpec, 'tap' | 'disk' | 'extraDisks' | 'ovmfVars' | 'qmpSocket' | 'noShutdown'> & {
    tapIndex?: number; diskMiB?: number; onSerialLine?: (line: string) => void;
    /** Sizes of more disks after the first (disk-<index>-<n>.img, vdb onwards). */
    extraDisksMiB?: readonly number[];
    /** QEMU as a chassis: -no-shutdown and a QMP socket (qmpSocket(index)), for the qemu power driver. */
    chassis?: boolean;
  }): Promise<Launched> {
    const index = spec.tapIndex ?? 0;
    const disk = spec.diskMiB ? { path: join(this.dir, `disk-${index}.img`), serial: `nb-disk-${index}` } : undefined;
    if (disk) createDiskImage(disk.path, spec.diskMiB!);
    const extraDisks = (spec.extraDisksMiB ?? []).map((sizeMiB, n) => {
      const extra = { path: join(this.dir, `disk-${index}-${n + 1}.img`), serial: `nb-disk-${index}-${n + 1}` };
      createDiskImage(extra.path, sizeMiB);
      return extra;
    });
    const ovmfVars = prepareFirmware(spec.firmware ?? 'bios', join(this.dir, `ovmf-vars-${index}.fd`));
    const { command, args } = this.network.exec(qemuBinary, qemuArgs({
      ...spec, tap: `tap${index}`, ...(disk ? { disk } : {}), ...(ovmfVars ? { ovmfVars } : {}), extraDisks,
      ...(spec.chassis ? { noShutdown: true, qmpSocket: this.qmpSocket(index) } : {}),
    }));
    const vm = await Launched.start({ name: `vm ${spec.mac}`, command, args, logFile: join(this.dir, `serial-${index}.log`), onLine: spec.onSerialLine });
    this.vms.push(vm);
    return vm;
  }

  /**
   * A machine behind an IPMI BMC, powered off: ipmi_sim on lab address 10.213.0.(50 + tapIndex), UDP
   * port 623, with a LAN administrator `user`/`password`; its QEMU (on tap<index>, a KCS system
   * interface to the BMC) starts only when the BMC is told to power on (lab/bmc.ts). The address
   * lives on the namespace's bridge: the appliance, the CLI and any `ip netns exec` reach it, nothing
   * outside the namespace does.
   */
  async startBmcMachine(spec: Omit<VmSpec, 'tap' | 'disk' | 'extraDisks' | 'ovmfVars' | 'qmpSocket' | 'noShutdown' | 'asHardware'> & {
    tapIndex?: number; diskMiB?: number; user: string; password: string; lifetimeSeconds?: number;
  }): Promise<LabBmc> {
    const index = spec.tapIndex ?? 0;
    const address = bmcAddress(index);
    ip('-n', this.network.name, 'addr', 'add', `${address}/${server.prefix}`, 'dev', bridgeName);
    const disk = spec.diskMiB ? { path: join(this.dir, `disk-${index}.img`), serial: `nb-disk-${index}` } : undefined;
    if (disk) createDiskImage(disk.path, spec.diskMiB!);
    const ovmfVars = prepareFirmware(spec.firmware ?? 'bios', join(this.dir, `ovmf-vars-${index}.fd`));
    const bmc = await LabBmc.start(this.network, {
      dir: join(this.dir, `bmc-${index}`), address, user: spec.user, password: spec.password,
      // A locally administered MAC of its own: the BMC's NIC is not the machine's.
      mac: `02:00:0a:d5:00:${(50 + index).toString(16).padStart(2, '0')}`, systemPort: 9002 + index,
      ...(spec.lifetimeSeconds ? { lifetimeSeconds: spec.lifetimeSeconds } : {}),
      qemu: {
        command: qemuBinary,
        args: qemuArgs({ ...spec, tap: `tap${index}`, ...(disk ? { disk } : {}), ...(ovmfVars ? { ovmfVars } : {}), asHardware: true }),
      },
    });
    this.bmcs.push(bmc);
    return bmc;
  }

  /** A read-only view of the appliance's store (SQLite WAL lets a second reader in). */
  store(): Store {
    this.readerStore ??= openStore(this.dataDir);
    return this.readerStore;
  }

  /** Polls the store until a machine with this MAC exists; fails early when the VM exits without it. */
  async waitForMachine(mac: string, vm: Launched, timeoutMs: number): Promise<Machine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const machine = this.store().machines.byMac(mac);
      if (machine) return machine;
      if (!vm.running) throw new LabError(`the VM ${mac} powered off without enlisting; serial console:\n${vm.tail(40)}`);
      if (!this.appliance.running) throw new LabError(`the appliance exited; its log:\n${this.appliance.tail(40)}`);
      if (Date.now() > deadline) throw new LabError(`no machine ${mac} after ${timeoutMs / 1000} s; serial console:\n${vm.tail(40)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Stops every process we started (by PID), removes the namespace and, unless kept, the lab folder. */
  async close(): Promise<void> {
    await this.readerStore?.close();
    await Promise.allSettled([...this.vms.map((vm) => vm.stop(2000)), ...this.bmcs.map((bmc) => bmc.stop())]);
    await this.appliance.stop();
    this.network.destroy();
    if (!this.options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The LAN address of the lab BMC in front of the VM on tap<index>. */
export function bmcAddress(index: number): string {
  const base = server.bmcBase.split('.').map(Number);
  return [...base.slice(0, 3), base[3]! + index].join('.');
}

/** `netboot serve` inside the lab's namespace, once it says it is serving. */
async function launchAppliance(network: LabNetwork, dir: string, options: LabOptions): Promise<Launched> {
  const { command, args } = network.exec(process.execPath, [cliEntry, 'serve', '--config', join(dir, 'netboot.yaml')]);
  const appliance = await Launched.start({
    name: 'appliance', command, args, logFile: join(dir, 'appliance.log'), onLine: options.onApplianceLine,
  });
  try {
    await appliance.waitFor(/netboot is serving/, 30_000, 'the appliance to listen');
  } catch (error) {
    await appliance.stop();
    throw error;
  }
  return appliance;
}

function labConfig(dataDir: string, options: LabOptions): object {
  return {
    dataDir,
    log: { level: options.logLevel ?? 'info' },
    images: { dir: options.imagesDir, enlist: 'micro', commission: options.commissionImage ?? 'micro', ephemeral: 'debian', deploy: 'debian-disk' },
    http: { host: server.address, port: 80 },
    tftp: { host: server.address, port: 69 },
    // no_timer_check: under TCG the kernel's IO-APIC timer check can miss its ticks on q35 (OVMF
    // VMs) and panic "IO-APIC + timer doesn't work"; the check is for broken real boards.
    boot: { uefiLoader: options.uefiLoader ?? 'snponly', kernelArgs: 'no_timer_check' },
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
    dhcp: options.dhcpMode === 'proxy'
      ? { enabled: true, mode: 'proxy', interface: 'br0', serverAddress: server.address }
      : {
        enabled: true, interface: 'br0', serverAddress: server.address, subnet: server.subnet,
        pool: { start: server.poolStart, end: server.poolEnd }, leaseTime: 3600,
      },
  };
}
