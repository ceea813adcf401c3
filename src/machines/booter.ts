// The Booter: one place decides what a machine boots (ARCHITECTURE.md). Unknown machines and New ones
// boot the enlistment image; the others boot what their life-cycle state set (machine.bootPurpose,
// written by src/machines/service.ts from the table's boot-purpose effects).
import type { Booter, BootClient, BootSpec, LinuxBootSpec } from './boot.js';
import { bootPurposeOf } from './lifecycle.js';
import type { Machine } from './model.js';

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
  readonly images: { get(name: string): BootImageFiles };
  readonly machines: { byMac(mac: string): Machine | undefined };
  /** Extra kernel arguments for every Linux boot (e.g. console settings). */
  readonly extraCmdline?: string;
}

export class LifecycleBooter implements Booter {
  constructor(private readonly deps: BooterDeps) {}

  async bootSpec(client: BootClient): Promise<BootSpec | null> {
    const machine = this.deps.machines.byMac(client.mac);
    if (!machine) return this.enlistSpec(client);
    const purpose = machine.bootPurpose ?? (machine.state === 'New' ? 'enlist'
      : bootPurposeOf({ state: machine.state, ...(machine.beforeRescue ? { beforeRescue: machine.beforeRescue } : {}) }));
    switch (purpose) {
      case 'enlist': return this.enlistSpec(client);
      case 'commission': return this.phaseSpec(client, machine, 'commissioning');
      case 'test': return this.phaseSpec(client, machine, 'testing');
      case 'local': case 'off': case 'none': return { purpose };
      // Deployment, erasing and rescue images come with the deployment issue: until then these boots
      // power off, and the state's timer reports the failure with its reason.
      default: return { purpose: 'off' };
    }
  }

  /**
   * The environment that runs the scripts of a phase: the micro image's runner as PID 1, or (an image
   * whose environment is cloud-init) systemd with cloud-init, whose user-data starts the same runner.
   */
  private phaseSpec(client: BootClient, machine: Machine, phase: 'commissioning' | 'testing'): BootSpec {
    if (!machine.token) return { purpose: 'off' }; // cannot call back without a token: never happens after rotate-token
    const name = this.deps.commissionImage ?? this.deps.enlistImage;
    const image = this.deps.images.get(name);
    const spec = this.linuxSpec(client, 'enlist', image);
    const args = [spec.cmdline, `netboot.url=${this.deps.publicUrl}`, `netboot.token=${machine.token}`, `netboot.phase=${phase}`];
    if (image.environment === 'cloud-init') {
      const seed = `${this.deps.publicUrl}/cloud-init/${machine.token}`;
      args.push(
        'netboot.init=/sbin/init',
        // NoCloud over HTTP: the seed URL must end in "/" (cloud-init appends the file names, FACTS.md).
        `ds=nocloud-net;s=${seed}/`,
        // Read by cloud-init's local stage before any datasource: points its reporting at us.
        `cloud-config-url=${seed}/cloud-config`,
      );
    }
    return { ...spec, purpose: phase === 'commissioning' ? 'commission' : 'test', cmdline: args.join(' '), runToken: machine.token };
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
