// The Booter: one place decides what a machine boots (ARCHITECTURE.md). Unknown machines and New ones
// boot the enlistment image; the others boot what their life-cycle state set (machine.bootPurpose,
// written by src/machines/service.ts from the table's boot-purpose effects).
import type { Booter, BootClient, BootSpec, LinuxBootSpec } from './boot.js';
import { bootPurposeOf, type RunPhase } from './lifecycle.js';
import type { Machine } from './model.js';
import { facts } from './service.js';

export interface BootImageFiles {
  /** agent: netboot's PID 1 in the root; cloud-init: systemd with a NoCloud seed (src/images types). */
  readonly environment?: 'agent' | 'cloud-init';
  readonly files: {
    readonly kernel: { readonly id: string };
    readonly initrd: { readonly id: string };
    readonly rootfs?: { readonly id: string };
  };
}

export interface BooterDeps {
  /** Base URL of the HTTP boot listener, no trailing slash. */
  readonly publicUrl: string;
  readonly enlistImage: string;
  /** Image of the commissioning and testing environment (default: the enlistment image). */
  readonly commissionImage?: string;
  /**
   * Image of the environment that installs, erases and rescues (a cloud-init image with the
   * installer's tools and sshd: images/debian). Default: the commissioning image.
   */
  readonly ephemeralImage?: string;
  /** File id of localboot.efi (the UEFI hand-off to the disk, from a disk image), when one is built. */
  readonly localbootEfi?: () => string | undefined;
  readonly images: { get(name: string): BootImageFiles };
  readonly machines: { byMac(mac: string): Machine | undefined };
  /** Extra kernel arguments for every Linux boot (e.g. console settings). */
  readonly extraCmdline?: string;
}

const phasePurposes = { commissioning: 'commission', testing: 'test', deployment: 'deploy-disk', erasing: 'erase' } as const;

function assertNever(value: never): never {
  throw new Error(`unhandled boot purpose: ${JSON.stringify(value)}`);
}

export class LifecycleBooter implements Booter {
  constructor(private readonly deps: BooterDeps) {}

  async bootSpec(client: BootClient): Promise<BootSpec | null> {
    const machine = this.deps.machines.byMac(client.mac);
    if (!machine) return this.enlistSpec(client);
    const purpose = machine.bootPurpose ?? (machine.state === 'New' ? 'enlist' : bootPurposeOf(facts(machine)));
    switch (purpose) {
      case 'enlist': return this.enlistSpec(client);
      case 'commission': return this.phaseSpec(client, machine, 'commissioning');
      case 'test': return this.phaseSpec(client, machine, 'testing');
      case 'deploy-disk': return this.phaseSpec(client, machine, 'deployment');
      case 'erase': return this.phaseSpec(client, machine, 'erasing');
      case 'deploy-memory': return this.systemSpec(client, machine, 'deploy-memory');
      case 'rescue': return this.systemSpec(client, machine, 'rescue');
      case 'local': {
        const localboot = this.deps.localbootEfi?.();
        return localboot ? { purpose, localbootEfi: localboot } : { purpose };
      }
      case 'off': case 'none': return { purpose };
      default: return assertNever(purpose);
    }
  }

  /**
   * The machine's own system in RAM: a memory deployment (its image, the operator's kernel
   * arguments) or rescue mode (the ephemeral image). No runner and no netboot.phase: cloud-init takes
   * the seed, which ends the phase with its last stage, and the system stays up.
   */
  private systemSpec(client: BootClient, machine: Machine, purpose: 'deploy-memory' | 'rescue'): BootSpec {
    if (!machine.token) return { purpose: 'off' };
    const name = purpose === 'deploy-memory' && machine.deployment ? machine.deployment.image : this.ephemeralImageName();
    const spec = this.linuxSpec(client, 'enlist', this.deps.images.get(name));
    const args = [spec.cmdline, ...this.cloudInitArgs(machine.token)];
    if (purpose === 'deploy-memory' && machine.deployment?.kernelArgs) args.push(machine.deployment.kernelArgs);
    return { ...spec, purpose, cmdline: args.join(' '), runToken: machine.token };
  }

  private ephemeralImageName(): string {
    return this.deps.ephemeralImage ?? this.deps.commissionImage ?? this.deps.enlistImage;
  }

  /** systemd as init, NoCloud over HTTP from our seed, and our reporting config before any datasource. */
  private cloudInitArgs(token: string): string[] {
    const seed = `${this.deps.publicUrl}/cloud-init/${token}`;
    return [
      'netboot.init=/sbin/init',
      // NoCloud over HTTP: the seed URL must end in "/" (cloud-init appends the file names, FACTS.md).
      `ds=nocloud-net;s=${seed}/`,
      // Read by cloud-init's local stage before any datasource: points its reporting at us.
      `cloud-config-url=${seed}/cloud-config`,
    ];
  }

  /**
   * The environment that runs the scripts of a phase: the micro image's runner as PID 1, or (an image
   * whose environment is cloud-init) systemd with cloud-init, whose user-data starts the same runner.
   */
  private phaseSpec(client: BootClient, machine: Machine, phase: RunPhase): BootSpec {
    if (!machine.token) return { purpose: 'off' }; // cannot call back without a token: never happens after rotate-token
    const installs = phase === 'deployment' || phase === 'erasing';
    const name = installs ? this.ephemeralImageName() : this.deps.commissionImage ?? this.deps.enlistImage;
    const image = this.deps.images.get(name);
    const spec = this.linuxSpec(client, 'enlist', image);
    const args = [spec.cmdline, `netboot.url=${this.deps.publicUrl}`, `netboot.token=${machine.token}`, `netboot.phase=${phase}`];
    if (image.environment === 'cloud-init') args.push(...this.cloudInitArgs(machine.token));
    return { ...spec, purpose: phasePurposes[phase], cmdline: args.join(' '), runToken: machine.token };
  }

  private enlistSpec(client: BootClient): LinuxBootSpec {
    const spec = this.linuxSpec(client, 'enlist');
    return { ...spec, cmdline: `${spec.cmdline} netboot.enlist=${this.deps.publicUrl}/enlist/v1/machines` };
  }

  /** An image's kernel, initrd and rootfs with the arguments every boot of it needs. */
  private linuxSpec(client: BootClient, purpose: 'enlist', image = this.deps.images.get(this.deps.enlistImage)): LinuxBootSpec {
    const { publicUrl } = this.deps;
    const rootfs = image.files.rootfs?.id;
    const args = [
      // Both consoles: the serial one is what QEMU tests and BMC serial-over-LAN read.
      'console=tty0', 'console=ttyS0,115200n8',
      // quiet keeps kernel messages from interleaving with the initrd's markers on the serial console;
      // panic=10 reboots (with QEMU's -no-reboot: exits) instead of hanging if switch_root fails.
      'quiet', 'panic=10',
      // pxelinux's BOOTIF format tells the initrd which NIC booted (hardware type 01 = Ethernet).
      `BOOTIF=01-${client.mac.replaceAll(':', '-')}`,
      rootfs ? `netboot.rootfs=${publicUrl}/files/${rootfs}?mac=${client.mac}` : '',
      this.deps.extraCmdline ?? '',
    ];
    return {
      purpose,
      kernel: image.files.kernel.id,
      initrd: [image.files.initrd.id],
      cmdline: args.filter(Boolean).join(' '),
      ...(rootfs ? { rootfs } : {}),
    };
  }
}
