// The built micro image's root, when one built from the current recipe is at hand (the QEMU tier
// builds it; NETBOOT_IMAGES_DIR points elsewhere): ipmitool, which 30-bmc-config runs in-band, must
// start inside it with only what the squashfs holds (its libraries and the dynamic loader), and the
// script must set up a user through it (chrooted, over LAN to ipmi_sim: the same ipmitool, libcrypto
// included, that talks to /dev/ipmi0 on a machine). Building the image here would cost a minute and
// network access, so without one the test is skipped.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultImagesDir, recipeSha256 } from '../../src/images/index.js';
import { tempDir } from './fixtures.js';
import { ADMIN, IpmiSim, ipmiSimAvailable } from '../commissioning-scripts/ipmi-sim.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const recipe = join(repo, 'images', 'micro');
const isRoot = process.getuid?.() === 0;
const imageDir = join(process.env.NETBOOT_IMAGES_DIR || defaultImagesDir(process.env, homedir()), 'micro');
const manifest = existsSync(join(imageDir, 'manifest.json'))
  ? JSON.parse(readFileSync(join(imageDir, 'manifest.json'), 'utf8')) as { recipeSha256?: string }
  : undefined;
const current = manifest?.recipeSha256 === await recipeSha256(recipe);
const hasUnsquashfs = spawnSync('sh', ['-c', 'command -v unsquashfs || test -x /usr/bin/unsquashfs']).status === 0;

describe.skipIf(!current || !hasUnsquashfs)('micro rootfs.squashfs (built from this recipe)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let root: string;
  beforeAll(() => {
    tmp = tempDir('micro-root');
    root = join(tmp.path, 'root');
    const r = spawnSync('unsquashfs', ['-q', '-n', '-d', root, join(imageDir, 'rootfs.squashfs')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
  afterAll(() => tmp?.remove());

  test('ipmitool runs from the root with its own libraries and loader', () => {
    expect(readlinkSync(join(root, 'lib64', 'ld-linux-x86-64.so.2'))).toBe('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    // As root, chrooted: exactly what the booted machine runs. Otherwise through the root's loader,
    // searching only the root's library folders.
    const [command, ...args] = isRoot
      ? ['chroot', root, '/usr/bin/ipmitool', '-V']
      : [join(root, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), '--library-path',
          `${join(root, 'lib/x86_64-linux-gnu')}:${join(root, 'usr/lib/x86_64-linux-gnu')}`, join(root, 'usr/bin/ipmitool'), '-V'];
    const r = spawnSync(command!, args, { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ipmitool version 1\.8\.\d+\n$/);
  });

  test('30-bmc-config\'s other tools are busybox applets of the root', () => {
    const applet = (tool: string): string | undefined => ['bin', 'usr/bin', 'sbin', 'usr/sbin']
      .map((d) => join(root, d, tool)).filter((p) => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()).map((p) => readlinkSync(p))[0];
    for (const tool of ['sh', 'timeout', 'awk', 'tr', 'head', 'sed']) expect(applet(tool), tool).toBe('/bin/busybox');
  });

  test.skipIf(!isRoot || !ipmiSimAvailable)('30-bmc-config creates a BMC user through the root\'s ipmitool', { timeout: 60_000 }, async () => {
    const sim = await IpmiSim.start(join(tmp.path, 'bmc'));
    try {
      copyFileSync(join(repo, 'commissioning', 'builtin', '30-bmc-config'), join(root, 'tmp', '30-bmc-config'));
      mkdirSync(join(root, 'tmp', 'out'));
      // The booted root has devtmpfs on /dev; the unpacked one needs the password's source.
      expect(spawnSync('mknod', ['-m', '444', join(root, 'dev', 'urandom'), 'c', '1', '9']).status).toBe(0);
      const r = spawnSync('chroot', [root, '/bin/sh', '/tmp/30-bmc-config'], {
        encoding: 'utf8', timeout: 50_000,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NETBOOT_OUTPUT_DIR: '/tmp/out', IPMITOOL: sim.ipmitool().join(' '), IPMI_PASSWORD: ADMIN.password },
      });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^BMC user netboot in slot 3, ADMINISTRATOR on LAN channel 1; BMC at 10\.0\.0\.5/);
      const { password } = JSON.parse(readFileSync(join(root, 'tmp', 'out', 'bmc-credentials.json'), 'utf8')) as { password: string };
      expect(sim.run('netboot', password, 'chassis', 'power', 'status').output).toContain('Chassis Power is off');
    } finally {
      await sim.stop();
    }
  });
});
