// 10-erase-disks for real on a loop device filled with a 0xAB marker (ERASE_DISKS limits it to that
// device: the test never reaches another disk of this host).
import { openSync, readFileSync, readSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { put } from '../images/fake-machine.js';
import { tempDir } from '../images/fixtures.js';
import { canLoop, Loops, MiB, runScript } from './harness.js';

const SIZE = 16 * MiB;
let tmp: ReturnType<typeof tempDir>;
let loops: Loops;
let out: string;
beforeEach(() => {
  tmp = tempDir('erase');
  loops = new Loops(tmp.path);
  out = join(tmp.path, 'out');
  mkdirSync(out);
});
afterEach(() => {
  loops.detachAll();
  tmp.remove();
});

/** 1 MiB of DEV at byte OFFSET. */
function read(dev: string, offset: number): Buffer {
  const fd = openSync(dev, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    readSync(fd, buf, 0, MiB, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
const only = (buf: Buffer, byte: number) => buf.every((b) => b === byte);
const erase = (env: Record<string, string>) => runScript('10-erase-disks', join(tmp.path, 'cwd'), { NETBOOT_OUTPUT_DIR: out, ...env });
const report = () => JSON.parse(readFileSync(join(out, 'erase.json'), 'utf8')) as unknown[];

describe.skipIf(!canLoop)('10-erase-disks on a loop device', () => {
  test('quick: the first and last MiB read back zero, the middle keeps its data', async () => {
    const dev = loops.attach(SIZE, 0xab);
    const r = await erase({ ERASE_MODE: 'quick', ERASE_DISKS: dev });
    expect(r.code, r.stderr).toBe(0);
    const name = dev.slice(5);
    expect(r.stdout).toMatch(new RegExp(`^${name}: quick, ${SIZE} bytes, \\d+\\.\\d\\d s\\nerased 1 disk \\(quick\\)`));
    expect(only(read(dev, 0), 0)).toBe(true);
    expect(only(read(dev, SIZE - MiB), 0)).toBe(true);
    expect(only(read(dev, SIZE / 2), 0xab)).toBe(true);
    expect(report()).toEqual([{ disk: name, method: 'quick', bytes: SIZE, seconds: expect.any(Number), verified: true }]);
  });

  test('full, write-zeroes offloaded (loop devices have it): every byte zero', async () => {
    const dev = loops.attach(SIZE, 0xab);
    const r = await erase({ ERASE_MODE: 'full', ERASE_DISKS: dev });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${dev.slice(5)}: zeroout, ${SIZE} bytes, `));
    expect(only(readFileSync(dev), 0)).toBe(true);
    expect(report()).toMatchObject([{ method: 'zeroout', bytes: SIZE, verified: true }]);
  });

  test('full without write-zeroes (a /sys that says so): dd, every byte zero', async () => {
    const dev = loops.attach(SIZE, 0xab);
    const sys = join(tmp.path, 'root');
    put(sys, `sys/block/${dev.slice(5)}/queue/write_zeroes_max_bytes`, '0\n');
    const r = await erase({ ERASE_MODE: 'full', ERASE_DISKS: dev, NETBOOT_SYSROOT: sys });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${dev.slice(5)}: dd, ${SIZE} bytes, `));
    expect(only(readFileSync(dev), 0)).toBe(true);
  });

  test('secure on a device without an erase command says so and does a full erase', async () => {
    const dev = loops.attach(SIZE, 0xab);
    const r = await erase({ ERASE_MODE: 'secure', ERASE_DISKS: dev });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`secure erase not supported on ${dev.slice(5)} (loop): doing full erase\n`);
    expect(only(readFileSync(dev), 0)).toBe(true);
    expect(report()).toMatchObject([{ method: 'zeroout', verified: true }]);
  });

  test('a disk that refuses writes fails with the reason last; its entry says unverified', async () => {
    const dev = loops.attach(SIZE, 0xab, true);
    const r = await erase({ ERASE_MODE: 'full', ERASE_DISKS: dev });
    expect(r.code).toBe(1);
    expect(r.lastErr).toMatch(new RegExp(`^erase failed on 1 of 1 disks; last: ${dev.slice(5)}: quick erase failed: `));
    expect(report()).toMatchObject([{ disk: dev.slice(5), method: 'quick', bytes: SIZE, verified: false }]);
    expect(only(read(dev, 0), 0xab)).toBe(true);
  });

  test('two disks, one of them missing: exit 1, the reason last; the other is still erased', async () => {
    const dev = loops.attach(SIZE, 0xab);
    const r = await erase({ ERASE_MODE: 'quick', ERASE_DISKS: `/dev/nosuchdisk ${dev}` });
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe('erase failed on 1 of 2 disks; last: nosuchdisk: not a block device');
    expect(only(read(dev, 0), 0)).toBe(true);
    expect(report()).toMatchObject([{ disk: dev.slice(5), verified: true }]);
  });
});

test('an unknown ERASE_MODE is refused before any disk is touched', async () => {
  const r = await erase({ ERASE_MODE: 'shred', ERASE_DISKS: '/dev/nosuchdisk' });
  expect(r.code).toBe(1);
  expect(r.lastErr).toBe("ERASE_MODE='shred': use quick, full or secure (set by the appliance)");
});
