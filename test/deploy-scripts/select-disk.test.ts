// deploy/builtin: the headers of every script, and 10-select-disk against a synthetic /sys
// (NETBOOT_SYSROOT): which disk it picks, DEPLOY_DISK, and the refusal of a disk too small.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { put } from '../images/fake-machine.js';
import { tempDir } from '../images/fixtures.js';
import { builtinDir, MiB, runScript } from './harness.js';

const EXPECTED = [
  ['10-erase-disks', 'erasing'], ['10-select-disk', 'deployment'], ['20-partition', 'deployment'],
  ['30-write-image', 'deployment'], ['40-configure', 'deployment'], ['50-bootloaders', 'deployment'],
] as const;
const HEADER = /^# netboot-script: name=(\S+) kind=(deployment|erasing) timeout=([1-9][0-9]*)$/;

describe('deploy/builtin headers', () => {
  test('exactly the expected scripts, bash, each with a header naming its file and a description', () => {
    expect(readdirSync(builtinDir).sort()).toEqual(EXPECTED.map(([name]) => name));
    for (const [name, kind] of EXPECTED) {
      const lines = readFileSync(join(builtinDir, name), 'utf8').split('\n');
      expect(lines[0]).toBe('#!/bin/bash');
      const m = HEADER.exec(lines[1] ?? '');
      expect(m?.slice(1, 3), name).toEqual([name, kind]);
      expect(lines[2]).toMatch(/^# netboot-description: \S.{10,}$/);
      expect(statSync(join(builtinDir, name)).mode & 0o111).toBe(0o111);
    }
  });

  test.each(EXPECTED.map(([name]) => name))('bash -n %s', (name) => {
    const r = spawnSync('bash', ['-n', join(builtinDir, name)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

let tmp: ReturnType<typeof tempDir>;
let sys: string;
let out: string;
let state: string;
beforeEach(() => {
  tmp = tempDir('select-disk');
  sys = join(tmp.path, 'root');
  out = join(tmp.path, 'out');
  state = join(tmp.path, 'state');
  mkdirSync(out);
});
afterEach(() => tmp.remove());

/** A disk in the fake /sys: SIZE in MiB. */
function disk(name: string, sizeMiB: number, attrs: { removable?: boolean; ro?: boolean; model?: string } = {}): void {
  put(sys, `sys/block/${name}/size`, `${sizeMiB * 2048}\n`);
  put(sys, `sys/block/${name}/removable`, attrs.removable ? '1\n' : '0\n');
  put(sys, `sys/block/${name}/ro`, attrs.ro ? '1\n' : '0\n');
  put(sys, `sys/block/${name}/queue/rotational`, '0\n');
  if (attrs.model) put(sys, `sys/block/${name}/device/model`, `${attrs.model}   \n`);
}
const select = (env: Record<string, string>) => runScript('10-select-disk', join(tmp.path, 'cwd'), {
  NETBOOT_SYSROOT: sys, NETBOOT_OUTPUT_DIR: out, DEPLOY_STATE_DIR: state, DEPLOY_ROOT_BYTES: String(733 * MiB), DEPLOY_DISK: '', ...env,
});

describe('10-select-disk', () => {
  beforeEach(() => {
    disk('loop0', 8192);
    disk('sr0', 4096);
    disk('dm-0', 8192);
    disk('md127', 8192);
    disk('sda', 16384, { removable: true, model: 'USB Stick' }); // the stick the operator booted from
    disk('sdb', 4096, { ro: true });
    disk('sdc', 0); // card reader without a card
    disk('vda', 4096);
    disk('vdb', 8192);
    put(sys, 'sys/class/block/vda1/partition', '1\n');
  });

  test('picks the first local, writable, non-removable disk by name; writes the state and disk.json', async () => {
    disk('sdd', 2048, { model: 'QEMU HARDDISK' });
    put(state, 'failed', '30-write-image\n'); // from an earlier deployment: a new one starts clean
    const r = await select({});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('sdd: 2048 MiB, QEMU HARDDISK (first local disk)\n');
    expect(readFileSync(join(state, 'disk'), 'utf8')).toBe('/dev/sdd\n');
    expect(existsSync(join(state, 'failed'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'disk.json'), 'utf8'))).toEqual({
      device: '/dev/sdd', chosenBy: 'first local disk', requiredBytes: (733 + 259 + 256) * MiB,
      disk: { name: 'sdd', sizeBytes: 2048 * MiB, model: 'QEMU HARDDISK', serial: '', rotational: false },
    });
  });

  test('without sdd, vda is first; DEPLOY_DISK names another (also with /dev/)', async () => {
    let r = await select({});
    expect(r.stdout).toBe('vda: 4096 MiB (first local disk)\n');
    r = await select({ DEPLOY_DISK: '/dev/vdb' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('vdb: 8192 MiB (DEPLOY_DISK)\n');
    expect(readFileSync(join(state, 'disk'), 'utf8')).toBe('/dev/vdb\n');
  });

  test.each([
    ['nosuch', /^DEPLOY_DISK=nosuch: no such disk on this machine \(disks: vda vdb \)$/],
    ['vda1', /^DEPLOY_DISK=vda1 is a partition: name the whole disk$/],
    ['sdb', /^disk sdb is read-only$/],
    ['../x', /is not a disk name/],
  ])('DEPLOY_DISK=%s is refused', async (name, reason) => {
    const r = await select({ DEPLOY_DISK: name });
    expect(r.code).toBe(1);
    expect(r.lastErr).toMatch(reason);
    expect(readFileSync(join(state, 'failed'), 'utf8')).toBe('10-select-disk\n');
  });

  test('a disk too small is refused with both sizes in MiB', async () => {
    disk('vda', 256);
    const r = await select({});
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe('disk vda is 256 MiB; the image needs at least 1248 MiB (root 733 MiB + boot partitions 259 MiB + headroom 256 MiB)');
    expect(existsSync(join(state, 'disk'))).toBe(false);
    // A large root: the headroom is 20% of it.
    const big = await select({ DEPLOY_ROOT_BYTES: String(10_000 * MiB) });
    expect(big.lastErr).toBe('disk vda is 256 MiB; the image needs at least 12259 MiB (root 10000 MiB + boot partitions 259 MiB + headroom 2000 MiB)');
  });

  test('no disk at all, or no DEPLOY_ROOT_BYTES: a clear reason', async () => {
    for (const name of ['vda', 'vdb']) writeFileSync(join(sys, `sys/block/${name}/removable`), '1\n');
    let r = await select({});
    expect(r.lastErr).toBe('no disk to install on: no local, writable, non-removable disk on this machine');
    r = await select({ DEPLOY_ROOT_BYTES: '' });
    expect(r.lastErr).toMatch(/^DEPLOY_ROOT_BYTES='' is not a byte count/);
  });
});
