// The Booter: one place decides what a machine boots (ARCHITECTURE.md). In this slice every machine
// that is unknown or still New boots the enlistment image; later states get their purposes with the
// life-cycle table.
import type { Booter, BootClient, BootSpec } from './boot.js';
import type { Machine } from './model.js';

export interface BootImageFiles {
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
  readonly images: { get(name: string): BootImageFiles };
  readonly machines: { byMac(mac: string): Machine | undefined };
  /** Extra kernel arguments for every Linux boot (e.g. console settings). */
  readonly extraCmdline?: string;
}

export class LifecycleBooter implements Booter {
  constructor(private readonly deps: BooterDeps) {}

  async bootSpec(client: BootClient): Promise<BootSpec | null> {
    const machine = this.deps.machines.byMac(client.mac);
    if (machine && machine.state !== 'New') {
      // Commissioning and deployment arrive with the life-cycle table; until then a known machine
      // past New boots from its disk rather than being enlisted again.
      return { purpose: 'local' };
    }
    return this.enlistSpec(client);
  }

  private enlistSpec(client: BootClient): BootSpec {
    const image = this.deps.images.get(this.deps.enlistImage);
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
      `netboot.enlist=${publicUrl}/enlist/v1/machines`,
      this.deps.extraCmdline ?? '',
    ];
    return {
      purpose: 'enlist',
      kernel: image.files.kernel.id,
      initrd: [image.files.initrd.id],
      cmdline: args.filter(Boolean).join(' '),
      ...(rootfs ? { rootfs } : {}),
    };
  }
}
