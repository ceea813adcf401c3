// The micro rootfs agent, run under the same busybox it boots with, in --print mode against a
// synthetic /sys and /proc: checks the JSON shape the enlist API validates and the string escaping
// (quotes, backslashes, control characters, stray Latin-1 bytes) that a real VM rarely exercises.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from './fixtures.js';

const micro = resolve(dirname(fileURLToPath(import.meta.url)), '../../images/micro');
const agent = join(micro, 'rootfs', 'enlist-agent');
const hasBusybox = spawnSync('busybox', ['true']).status === 0;

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => { tmp = tempDir('agent'); });
afterEach(() => tmp.remove());

function put(rel: string, data: string | Buffer): void {
  const path = join(tmp.path, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

const IOMEM = `00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
00100000-1ffdffff : System RAM
  01000000-01e0ffff : Kernel code
1ffe0000-1fffffff : Reserved
100000000-13fffffff : System RAM
`;
const RAM = (0x9fbff - 0x1000 + 1) + (0x1ffdffff - 0x100000 + 1) + (0x13fffffff - 0x100000000 + 1);
// Latin-1 "é" (0xe9, invalid UTF-8 on its own), then a real UTF-8 "é", quotes, backslash, SOH, tab.
const NASTY_MODEL = Buffer.concat([
  Buffer.from('  Disk "x" \\ \x01\tA'), Buffer.from([0xe9]), Buffer.from('é end   \n'),
]);

function fakeMachine(): void {
  put('proc/iomem', IOMEM);
  put('proc/cpuinfo', 'processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\n\nprocessor\t: 1\nmodel name\t: QEMU Virtual CPU version 2.5+\n');
  put('proc/meminfo', 'MemTotal:         500000 kB\n');
  put('sys/class/net/eth0/address', '52:54:00:12:34:56\n');
  put('sys/class/net/eth0/carrier', '1\n');
  put('sys/class/net/eth0/speed', '1000\n');
  mkdirSync(join(tmp.path, 'sys/class/net/eth0/device'), { recursive: true });
  symlinkSync('../../../bus/pci/drivers/e1000', join(tmp.path, 'sys/class/net/eth0/device/driver'));
  put('sys/class/net/eth1/address', '52:54:00:99:99:99\n');
  put('sys/class/net/eth1/speed', '-1\n'); // link down: carrier unreadable, speed -1
  mkdirSync(join(tmp.path, 'sys/class/net/eth1/device'), { recursive: true });
  put('sys/class/net/eth0/type', '1\n');
  put('sys/class/net/ib0/address', '80:00:00:48:fe:80:00:00:00:00:00:00:52:54:00:00:00:00:00:01\n');
  put('sys/class/net/ib0/type', '32\n'); // InfiniBand: skipped
  mkdirSync(join(tmp.path, 'sys/class/net/ib0/device'), { recursive: true });
  put('sys/class/net/lo/address', '00:00:00:00:00:00\n'); // no device: skipped
  put('sys/class/net/br0/address', '02:00:00:00:00:01\n');
  put('sys/block/sda/size', '2097152\n');
  put('sys/block/sda/device/model', 'QEMU HARDDISK   \n');
  put('sys/block/sda/device/vpd_pg80', Buffer.concat([Buffer.from([0, 0x80, 0, 12]), Buffer.from('  nb-disk-1 ')]));
  put('sys/block/sda/queue/rotational', '1\n');
  put('sys/block/vda/size', '1024\n');
  put('sys/block/vda/serial', 'nb-virtio\n');
  put('sys/block/vda/queue/rotational', '0\n');
  put('sys/block/nvme0n1/size', '8\n');
  put('sys/block/nvme0n1/device/model', NASTY_MODEL);
  put('sys/block/nvme0n1/device/serial', 'S"N\\1\n');
  for (const skipped of ['loop0', 'ram0', 'sr0', 'zram0']) put(`sys/block/${skipped}/size`, '100\n');
  put('sys/class/dmi/id/sys_vendor', 'QEMU\n');
  put('sys/class/dmi/id/product_name', 'Standard PC (i440FX + PIIX, 1996)\n');
  put('sys/class/dmi/id/product_serial', '\n');
  put('sys/class/dmi/id/product_uuid', '8c3e6a4e-0000-4000-8000-000000000001\n');
}

function runAgent(): { raw: Buffer; json: Record<string, unknown> } {
  const raw = execFileSync('busybox', ['sh', agent, '--print'], {
    env: { PATH: process.env.PATH, NETBOOT_AGENT_ROOT: tmp.path, NETBOOT_BOOT_MAC: '52:54:00:12:34:56' },
  });
  // fatal: throws unless the document is valid UTF-8 (RFC 8259 §8.1).
  const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  return { raw, json: JSON.parse(text) as Record<string, unknown> };
}

describe.skipIf(!hasBusybox)('enlist-agent --print (busybox sh)', () => {
  test('prints the inventory the enlist API expects', () => {
    fakeMachine();
    const { json } = runAgent();
    expect(json).toMatchObject({
      bootMac: '52:54:00:12:34:56',
      arch: expect.any(String),
      kernel: expect.any(String),
      cpu: { count: 2, model: 'QEMU Virtual CPU version 2.5+' },
      memoryBytes: RAM,
      nics: [
        { name: 'eth0', mac: '52:54:00:12:34:56', driver: 'e1000', link: true, speedMbps: 1000 },
        { name: 'eth1', mac: '52:54:00:99:99:99', driver: '', link: false, speedMbps: null },
      ],
      dmi: { vendor: 'QEMU', product: 'Standard PC (i440FX + PIIX, 1996)', serial: '', uuid: '8c3e6a4e-0000-4000-8000-000000000001' },
    });
    expect(json.disks).toEqual([
      { name: 'nvme0n1', sizeBytes: 4096, model: 'Disk "x" \\ \u0001\tA\u00e9é end', serial: 'S"N\\1', rotational: false },
      { name: 'sda', sizeBytes: 1073741824, model: 'QEMU HARDDISK', serial: 'nb-disk-1', rotational: true },
      { name: 'vda', sizeBytes: 524288, model: '', serial: 'nb-virtio', rotational: false },
    ]);
  });

  test('escapes control characters and stray bytes as \\u00XX and keeps valid UTF-8 as is', () => {
    fakeMachine();
    const { raw } = runAgent();
    const text = raw.toString('utf8');
    expect(text).toContain(String.raw`"model": "Disk \"x\" \\ \u0001\tA\u00e9é end"`);
  });

  test('falls back to MemTotal when /proc/iomem hides addresses (non-root readers)', () => {
    fakeMachine();
    put('proc/iomem', '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n');
    expect(runAgent().json.memoryBytes).toBe(500000 * 1024);
  });

  test('empty machine: empty lists, no crash', () => {
    put('proc/cpuinfo', '');
    const { json } = runAgent();
    expect(json).toMatchObject({ nics: [], disks: [], cpu: { count: 0, model: '' }, memoryBytes: 0 });
  });
});

describe.skipIf(!hasBusybox)('micro recipe scripts parse', () => {
  test.each(['initrd/init', 'initrd/udhcpc.script', 'rootfs/enlist-agent'])('busybox sh -n %s', (file) => {
    expect(spawnSync('busybox', ['sh', '-n', join(micro, file)], { encoding: 'utf8' }).stderr).toBe('');
  });
});

describe('micro build scripts parse', () => {
  test.each(['build.sh', 'lib/trees.sh'])('bash -n %s', (file) => {
    expect(spawnSync('bash', ['-n', join(micro, file)], { encoding: 'utf8' }).stderr).toBe('');
  });
});
