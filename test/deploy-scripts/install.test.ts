// The deploy steps one after the other on a loop device, as in the installer environment:
// 10-select-disk (DEPLOY_DISK naming the loop device), 20-partition, 30-write-image (a small root
// tarball from our Range server), 40-configure (seed from the same server) and 50-bootloaders, which
// fails on this tarball (no GRUB in it) and must leave nothing mounted. This host's kernel has no
// vfat: the test then bind-mounts a folder at boot/efi, which 40-configure keeps (the QEMU
// end-to-end test runs the real ESP and GRUB).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from '../images/fixtures.js';
import { canPartition, hasZstd, Loops, MiB, RangeServer, rootTarball, runScript, sha256 } from './harness.js';

const hasVfat = readFileSync('/proc/filesystems', 'utf8').includes('\tvfat\n');
const blkid = (dev: string) => spawnSync('blkid', ['-s', 'UUID', '-o', 'value', dev], { encoding: 'utf8' }).stdout.trim();
const mounts = (under: string) => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.split(' ')[1]?.startsWith(under));

let tmp: ReturnType<typeof tempDir>;
let loops: Loops;
let server: RangeServer | undefined;
beforeEach(() => {
  tmp = tempDir('install');
  loops = new Loops(tmp.path);
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  loops.detachAll();
  tmp.remove();
});

describe.skipIf(!canPartition || !hasZstd)('deploy steps on a loop device', () => {
  test('select, partition, write, configure; the bootloader step fails clearly and unmounts all', async () => {
    const dev = loops.attach(640 * MiB);
    const state = join(tmp.path, 'state');
    const out = (step: string) => { const d = join(tmp.path, 'out', step); mkdirSync(d, { recursive: true }); return d; };
    const image = rootTarball(tmp.path);
    server = new RangeServer({
      '/img/root.tar.zst': image,
      '/seed/meta-data': Buffer.from('instance-id: iid-1\nlocal-hostname: node01\n'),
      '/seed/user-data': Buffer.from('#cloud-config\npassword: secret\n'),
      '/seed/vendor-data': Buffer.from('#cloud-config\nphone_home: {url: http://x/tok/phone-home}\n'),
      '/seed/cloud-config': Buffer.from('datasource_list: [NoCloud, None]\nmanual_cache_clean: true\n'),
    });
    const base = await server.start();
    const env = {
      DEPLOY_STATE_DIR: state, DEPLOY_DISK: dev.slice(5), DEPLOY_ROOT_BYTES: String(64 * MiB),
      DEPLOY_IMAGE_URL: `${base}/img/root.tar.zst`, DEPLOY_IMAGE_SHA256: sha256(image), DEPLOY_IMAGE_BYTES: String(image.length),
      DEPLOY_SEED_URL: `${base}/seed/`, DEPLOY_KERNEL_ARGS: `console=ttyS1,115200 it's="a b" $x`,
    };
    const step = (name: string) => runScript(name, join(tmp.path, 'cwd', name), { ...env, NETBOOT_OUTPUT_DIR: out(name) });

    let r = await step('10-select-disk');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${dev.slice(5)}: 640 MiB (DEPLOY_DISK)\n`);

    r = await step('20-partition');
    expect(r.code, r.stderr).toBe(0);
    const table = spawnSync('sgdisk', ['-p', dev], { encoding: 'utf8' }).stdout;
    const parts = [...table.matchAll(/^\s+(\d)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+(\w{4})\s+(\w+)$/gm)].map((m) => [m[1], m[2], m[4], m[5]]);
    expect(parts).toEqual([['1', '2048', 'EF02', 'bios'], ['2', '4096', 'EF00', 'esp'], ['3', '528384', '8304', 'root']]);
    const [esp, root] = [`${dev}p2`, `${dev}p3`];
    expect(spawnSync('blkid', ['-s', 'TYPE', '-o', 'value', esp], { encoding: 'utf8' }).stdout.trim()).toBe('vfat');
    const target = join(state, 'target');
    expect(mounts(target)).toEqual([expect.stringMatching(new RegExp(`^${root} ${target} ext4 `))]);

    r = await step('30-write-image');
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(target, 'etc/hostname'), 'utf8')).toBe('debian\n');

    const efi = join(tmp.path, 'efi');
    mkdirSync(efi);
    const mountEsp = () => {
      if (hasVfat) return;
      mkdirSync(join(target, 'boot/efi'), { recursive: true });
      expect(spawnSync('mount', ['--bind', efi, join(target, 'boot/efi')]).status).toBe(0);
    };
    mountEsp();
    // A seed the appliance does not serve: a clear reason, the step marked failed, all unmounted.
    r = await runScript('40-configure', join(tmp.path, 'cwd', 'noseed'), { ...env, DEPLOY_SEED_URL: `${base}/noseed/` });
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe(`the appliance has no meta-data for this machine (404 from ${base}/noseed/meta-data)`);
    expect(mounts(tmp.path)).toEqual([]);
    rmSync(join(state, 'failed'));
    expect(spawnSync('mount', [root, target]).status).toBe(0);
    mountEsp();

    r = await step('40-configure');
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(target, 'etc/fstab'), 'utf8')).toContain(
      `UUID=${blkid(root)}  /          ext4  errors=remount-ro  0 1\nUUID=${blkid(esp)}   /boot/efi  vfat  umask=0077         0 2\n`);
    const seed = join(target, 'var/lib/cloud/seed/nocloud');
    expect(readFileSync(join(seed, 'user-data'), 'utf8')).toBe('#cloud-config\npassword: secret\n');
    expect(statSync(join(seed, 'user-data')).mode & 0o777).toBe(0o600);
    expect(statSync(join(seed, 'vendor-data')).mode & 0o777).toBe(0o600);
    expect(statSync(join(seed, 'meta-data')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(target, 'etc/cloud/cloud.cfg.d/90-netboot.cfg'), 'utf8')).toContain('manual_cache_clean: true');
    expect(r.stdout).toContain('cloud-init seed: meta-data user-data vendor-data;'); // network-config: 404, optional
    expect(readFileSync(join(target, 'etc/machine-id'), 'utf8')).toBe('');
    expect(server.requests.filter((q) => q.path.startsWith('/seed/')).every((q) => q.auth === 'Bearer tok-test')).toBe(true);
    // grub-mkconfig sources the drop-in with sh: the arguments come out exactly as given.
    const cmdline = spawnSync('sh', ['-c', `GRUB_CMDLINE_LINUX="console=tty0"; . "$1"; printf '%s' "$GRUB_CMDLINE_LINUX"`, 'sh',
      join(target, 'etc/default/grub.d/60-netboot.cfg')], { encoding: 'utf8' }).stdout;
    expect(cmdline).toBe(`console=tty0 console=ttyS1,115200 it's="a b" $x`);

    r = await step('50-bootloaders');
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe('the image has no grub-install (grub2-common, grub-pc-bin, grub-efi-amd64-bin)');
    expect(mounts(tmp.path)).toEqual([]);
    expect(readFileSync(join(state, 'failed'), 'utf8')).toBe('50-bootloaders\n');
  }, 60_000);

  test('20-partition refuses a disk with a mounted partition, and says so last', async () => {
    const dev = loops.attach(640 * MiB);
    const state = join(tmp.path, 'state');
    let r = await runScript('10-select-disk', join(tmp.path, 'cwd1'), {
      DEPLOY_STATE_DIR: state, DEPLOY_DISK: dev.slice(5), DEPLOY_ROOT_BYTES: '0', NETBOOT_OUTPUT_DIR: tmp.path,
    });
    expect(r.code, r.stderr).toBe(0);
    r = await runScript('20-partition', join(tmp.path, 'cwd2'), { DEPLOY_STATE_DIR: state });
    expect(r.code, r.stderr).toBe(0); // mounted its root: now a second run finds it in use
    r = await runScript('20-partition', join(tmp.path, 'cwd3'), { DEPLOY_STATE_DIR: state });
    expect(r.code).toBe(1);
    expect(r.lastErr).toMatch(new RegExp(`^disk ${dev.slice(5)} is in use \\(${dev}p3 ${state}/target ext4 .*\\): it will not be wiped$`));
  }, 30_000);
});
