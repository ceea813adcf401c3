// QEMU command lines for lab VMs (pure). See FACTS.md "QEMU on this machine": TCG by default,
// because the nested KVM here cannot run SeaBIOS/OVMF; default NIC ROMs make the firmware's network
// boot iPXE.
import { execFileSync } from 'node:child_process';

export interface VmSpec {
  readonly mac: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly tap: string;
  /** A raw disk image attached as virtio-blk with this serial. */
  readonly disk?: { readonly path: string; readonly serial: string };
  readonly accel: 'tcg' | 'kvm';
  /** NIC model; QEMU's default ROM for it runs iPXE under SeaBIOS. */
  readonly nic?: 'e1000' | 'virtio-net-pci';
}

export const qemuBinary = 'qemu-system-x86_64';

export function qemuArgs(vm: VmSpec): string[] {
  const args = [
    '-accel', vm.accel,
    '-machine', 'pc',
    '-m', String(vm.memoryMiB),
    '-smp', String(vm.cpus),
    '-uuid', vm.uuid, // without it the SMBIOS/option 97 UUID is all zeros (FACTS.md)
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    '-no-reboot', // the agent powers off; a reboot loop would hide a failure
    '-netdev', `tap,id=boot,ifname=${vm.tap},script=no,downscript=no`,
    '-device', `${vm.nic ?? 'e1000'},netdev=boot,mac=${vm.mac}`,
    '-boot', 'order=n',
  ];
  if (vm.disk) {
    // QEMU 7.2 takes the serial on the device, not on -drive ("raw does not support the option 'serial'").
    args.push('-drive', `file=${vm.disk.path},format=raw,if=none,id=disk0`,
      '-device', `virtio-blk-pci,drive=disk0,serial=${vm.disk.serial}`);
  }
  return args;
}

/** Creates a sparse raw disk image of the given size. */
export function createDiskImage(path: string, sizeMiB: number): void {
  execFileSync('truncate', ['-s', `${sizeMiB}M`, path]);
}
