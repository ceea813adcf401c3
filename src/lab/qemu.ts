// QEMU command lines for lab VMs (pure but for createDiskImage/prepareFirmware). See FACTS.md "QEMU
// on this machine": TCG by default, because the nested KVM here cannot run SeaBIOS/OVMF.
import { copyFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { LabError } from '../errors.js';

/**
 * - bios: SeaBIOS; the NIC's default QEMU ROM is iPXE, so the firmware's network boot is iPXE.
 * - uefi-pxe: OVMF's own PXE (virtio-net with romfile= empty, so no iPXE ROM) -> TFTP loader.
 * - uefi-http: OVMF UEFI HTTP Boot only (PXE switched off through fw_cfg).
 * - secure-boot: OVMF with Secure Boot enforced and Microsoft's keys enrolled (q35 + SMM).
 */
export type VmFirmware = 'bios' | 'uefi-pxe' | 'uefi-http' | 'secure-boot';

/** `qmpSocket`, `noShutdown` (ChassisOptions): a VM the qemu power driver (src/power) switches over QMP. */
export interface VmSpec extends ChassisOptions {
  readonly mac: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly tap: string;
  /** A raw disk image attached as virtio-blk with this serial (vda: the boot disk, second in the boot order). */
  readonly disk?: { readonly path: string; readonly serial: string };
  /** More raw disks (vdb, ...), never booted from: e.g. a disk too small to deploy to. */
  readonly extraDisks?: readonly { readonly path: string; readonly serial: string }[];
  readonly accel: 'tcg' | 'kvm';
  readonly firmware?: VmFirmware;
  /** Writable copy of the OVMF variable store (UEFI firmware only); see prepareFirmware. */
  readonly ovmfVars?: string;
}

/** QEMU as a chassis with a power button: what the qemu power driver (src/power/qemu.ts) needs. */
export interface ChassisOptions {
  /** `-qmp unix:<path>,server=on,wait=off`: the driver's socket (one QMP client at a time). */
  readonly qmpSocket?: string;
  /**
   * `-no-shutdown`: a guest power-off leaves QEMU alive in run state 'shutdown', to be powered on
   * again over QMP. It replaces -no-reboot, under which QEMU turns QMP system_reset into a shutdown
   * and the VM could never be powered on again; a guest reboot then reboots, as real hardware does.
   */
  readonly noShutdown?: boolean;
  /**
   * Neither -no-shutdown nor -no-reboot: a guest reboot reboots and a guest power-off ends QEMU, as
   * on a machine behind a BMC (lab/bmc.ts), whose power is on while its QEMU lives.
   */
  readonly asHardware?: boolean;
}

export const qemuBinary = 'qemu-system-x86_64';

const ovmf = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  secureCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  // VARS with Microsoft's KEK/db enrolled and Secure Boot on: shim (signed by Microsoft) passes.
  secureVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
};

export function qemuArgs(vm: VmSpec): string[] {
  const firmware = vm.firmware ?? 'bios';
  const args = [
    '-accel', vm.accel,
    '-m', String(vm.memoryMiB),
    '-smp', String(vm.cpus),
    '-uuid', vm.uuid, // without it the SMBIOS/option 97 UUID is all zeros (FACTS.md)
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    ...chassisArgs(vm),
    '-netdev', `tap,id=boot,ifname=${vm.tap},script=no,downscript=no`,
  ];
  // With a disk: NIC first, disk second, as a deployed machine is set up (the appliance stays in
  // control of every boot and answers "boot your disk", recipes/deploy.md §4). Without one, network only.
  const nicBoot = vm.disk ? ',bootindex=1' : '';
  if (firmware === 'bios') {
    args.push('-machine', 'pc', '-device', `e1000,netdev=boot,mac=${vm.mac}${nicBoot}`, ...(vm.disk ? [] : ['-boot', 'order=n']));
  } else {
    if (!vm.ovmfVars) throw new LabError('UEFI VMs need a writable OVMF_VARS copy (prepareFirmware)');
    const secure = firmware === 'secure-boot';
    // OVMF has no e1000 driver; virtio-net with an empty romfile= keeps QEMU's iPXE ROM out, so the
    // firmware's own PXE/HTTP stack boots (FACTS.md).
    args.push(
      '-machine', secure ? 'q35,smm=on' : 'q35',
      ...(secure ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []),
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${secure ? ovmf.secureCode : ovmf.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vm.ovmfVars}`,
      '-device', `virtio-net-pci,netdev=boot,mac=${vm.mac},romfile=${nicBoot}`,
    );
    if (firmware === 'uefi-http') {
      args.push(
        '-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n',
        '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n',
      );
    }
  }
  if (vm.disk) {
    // QEMU 7.2 takes the serial on the device, not on -drive ("raw does not support the option 'serial'").
    args.push('-drive', `file=${vm.disk.path},format=raw,if=none,id=disk0`,
      '-device', `virtio-blk-pci,drive=disk0,serial=${vm.disk.serial},bootindex=2`);
  }
  vm.extraDisks?.forEach((disk, i) => {
    args.push('-drive', `file=${disk.path},format=raw,if=none,id=disk${i + 1}`, '-device', `virtio-blk-pci,drive=disk${i + 1},serial=${disk.serial}`);
  });
  return args;
}

export function chassisArgs(options: ChassisOptions): string[] {
  return [
    // Without -no-shutdown the agent's power-off ends QEMU; -no-reboot: a reboot loop would hide a failure.
    ...(options.noShutdown ? ['-no-shutdown'] : options.asHardware ? [] : ['-no-reboot']),
    // QEMU option values escape a comma by doubling it.
    ...(options.qmpSocket ? ['-qmp', `unix:${options.qmpSocket.replaceAll(',', ',,')},server=on,wait=off`] : []),
  ];
}

/** Copies the OVMF variable store a UEFI VM writes to; returns its path (undefined for BIOS). */
export function prepareFirmware(firmware: VmFirmware, varsPath: string): string | undefined {
  if (firmware === 'bios') return undefined;
  const source = firmware === 'secure-boot' ? ovmf.secureVars : ovmf.vars;
  if (!existsSync(source)) throw new LabError(`${source} is missing: apt-get install ovmf`);
  copyFileSync(source, varsPath);
  return varsPath;
}

/** Creates a sparse raw disk image of the given size. */
export function createDiskImage(path: string, sizeMiB: number): void {
  execFileSync('truncate', ['-s', `${sizeMiB}M`, path]);
}
