// A synthetic /sys and /proc for the micro image's shell scripts (enlist-agent --print, the built-in
// commissioning scripts), which read <root>/sys and <root>/proc when NETBOOT_SYSROOT=<root>.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Writes ROOT/REL (folders included). */
export function put(root: string, rel: string, data: string | Buffer): void {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

export const IOMEM = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
00100000-1ffdffff : System RAM
  01000000-01e0ffff : Kernel code
1ffe0000-1fffffff : Reserved
100000000-13fffffff : System RAM
`;
export const RAM = (0x9fbff - 0x1000 + 1) + (0x1ffdffff - 0x100000 + 1) + (0x13fffffff - 0x100000000 + 1);
// Latin-1 "é" (0xe9, invalid UTF-8 on its own), then a real UTF-8 "é", quotes, backslash, SOH, tab.
export const NASTY_MODEL = Buffer.concat([
  Buffer.from('  Disk "x" \\ \x01\tA'), Buffer.from([0xe9]), Buffer.from('é end   \n'),
]);

/** Two CPUs, RAM per IOMEM, NICs eth0 (e1000, link) and eth1 (down) plus ones the agent skips,
 * disks nvme0n1, sda, vda plus ones it skips, QEMU's DMI strings. */
export function fakeMachine(root: string): void {
  const p = (rel: string, data: string | Buffer): void => put(root, rel, data);
  p('proc/iomem', IOMEM);
  p('proc/cpuinfo', 'processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\n\nprocessor\t: 1\nmodel name\t: QEMU Virtual CPU version 2.5+\n');
  p('proc/meminfo', 'MemTotal:         500000 kB\n');
  p('sys/class/net/eth0/address', '52:54:00:12:34:56\n');
  p('sys/class/net/eth0/carrier', '1\n');
  p('sys/class/net/eth0/speed', '1000\n');
  mkdirSync(join(root, 'sys/class/net/eth0/device'), { recursive: true });
  symlinkSync('../../../bus/pci/drivers/e1000', join(root, 'sys/class/net/eth0/device/driver'));
  p('sys/class/net/eth1/address', '52:54:00:99:99:99\n');
  p('sys/class/net/eth1/speed', '-1\n'); // link down: carrier unreadable, speed -1
  mkdirSync(join(root, 'sys/class/net/eth1/device'), { recursive: true });
  p('sys/class/net/eth0/type', '1\n');
  p('sys/class/net/ib0/address', '80:00:00:48:fe:80:00:00:00:00:00:00:52:54:00:00:00:00:00:01\n');
  p('sys/class/net/ib0/type', '32\n'); // InfiniBand: skipped
  mkdirSync(join(root, 'sys/class/net/ib0/device'), { recursive: true });
  p('sys/class/net/lo/address', '00:00:00:00:00:00\n'); // no device: skipped
  p('sys/class/net/br0/address', '02:00:00:00:00:01\n');
  p('sys/block/sda/size', '2097152\n');
  p('sys/block/sda/device/model', 'QEMU HARDDISK   \n');
  p('sys/block/sda/device/vpd_pg80', Buffer.concat([Buffer.from([0, 0x80, 0, 12]), Buffer.from('  nb-disk-1 ')]));
  p('sys/block/sda/queue/rotational', '1\n');
  p('sys/block/vda/size', '1024\n');
  p('sys/block/vda/serial', 'nb-virtio\n');
  p('sys/block/vda/queue/rotational', '0\n');
  p('sys/block/nvme0n1/size', '8\n');
  p('sys/block/nvme0n1/device/model', NASTY_MODEL);
  p('sys/block/nvme0n1/device/serial', 'S"N\\1\n');
  for (const skipped of ['loop0', 'ram0', 'sr0', 'zram0', 'fd0']) p(`sys/block/${skipped}/size`, '100\n');
  p('sys/class/dmi/id/sys_vendor', 'QEMU\n');
  p('sys/class/dmi/id/product_name', 'Standard PC (i440FX + PIIX, 1996)\n');
  p('sys/class/dmi/id/product_serial', '\n');
  p('sys/class/dmi/id/product_uuid', '8c3e6a4e-0000-4000-8000-000000000001\n');
}
