// The deploy and erase scripts through the image's runner, as the Debian environment runs them:
// bundled with their parameters as <script>.env, busybox's applets first on PATH (the image's
// /usr/lib/netboot/bin), one result posted per script, a failed step making the later ones skip.
// The runner knows only the commissioning and testing phases so far: the bundle is fetched as
// "testing" (the runner runs whatever index.tsv lists).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from '../images/fixtures.js';
import { b64, MachineApi, scriptsTar, TOKEN } from '../images/machine-api.js';
import { builtinDir, canPartition, hasZstd, libDir, Loops, MiB, RangeServer, rootTarball } from './harness.js';

const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
const timeoutOf = (name: string): number => Number(/timeout=(\d+)/.exec(readFileSync(join(builtinDir, name), 'utf8'))![1]);

let tmp: ReturnType<typeof tempDir>;
let loops: Loops;
let api: MachineApi;
let images: RangeServer | undefined;
beforeEach(async () => {
  tmp = tempDir('deploy-runner');
  loops = new Loops(tmp.path);
  api = await MachineApi.start();
});
afterEach(async () => {
  await api.close();
  await images?.stop();
  images = undefined;
  loops.detachAll();
  tmp.remove();
});

/** /usr/lib/netboot as images/debian lays it out: the runner, its libraries, busybox applets in bin/. */
function imageLib(): string {
  const lib = join(tmp.path, 'lib');
  mkdirSync(join(lib, 'bin'), { recursive: true });
  for (const file of ['runner', 'inventory.sh', 'deploy.sh']) symlinkSync(join(libDir, file), join(lib, file));
  for (const applet of spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    symlinkSync(busybox, join(lib, 'bin', applet));
  }
  return lib;
}

function runRunner(lib: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((done) => {
    const child = spawn(join(lib, 'bin', 'sh'), [join(lib, 'runner'), '--no-poweroff'], {
      env: {
        PATH: process.env.PATH, NETBOOT_ENV_FILE: join(tmp.path, 'none'), NETBOOT_RUNNER_DIR: join(tmp.path, 'work'),
        NETBOOT_URL: api.url, NETBOOT_TOKEN: TOKEN, NETBOOT_PHASE: 'testing', NETBOOT_BOOT_MAC: '52:54:00:12:34:56',
        TMPDIR: tmp.path, NETBOOT_RETRY_DELAY: '0.1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.on('close', (code) => done({ code, stdout }));
  });
}
const lastLine = (s: string): string => b64(s).toString().trimEnd().split('\n').at(-1) ?? '';

describe.skipIf(!busybox || !canPartition || !hasZstd)('deploy scripts through the runner', () => {
  test('a deployment whose image fails its checksum: that step says why, the later ones skip', async () => {
    const dev = loops.attach(640 * MiB);
    const image = rootTarball(tmp.path);
    images = new RangeServer({ '/root.tar.zst': image });
    const base = await images.start();
    const state = join(tmp.path, 'state');
    const params: Record<string, string> = {
      DEPLOY_STATE_DIR: state, DEPLOY_DISK: dev.slice(5), DEPLOY_ROOT_BYTES: String(64 * MiB), DEPLOY_IMAGE_URL: `${base}/root.tar.zst`,
      DEPLOY_IMAGE_SHA256: '0'.repeat(64), DEPLOY_IMAGE_BYTES: String(image.length), DEPLOY_SEED_URL: `${base}/seed/`, DEPLOY_KERNEL_ARGS: '',
    };
    const names = ['10-select-disk', '20-partition', '30-write-image', '40-configure', '50-bootloaders'];
    api.tar = await scriptsTar(names.map((name) => ({ name, timeout: timeoutOf(name), content: readFileSync(join(builtinDir, name)), env: params })));
    const run = await runRunner(imageLib());
    expect(run.code, run.stdout).toBe(0);
    const results = api.results();
    expect(results.map((r) => [r.name, r.exitCode, r.timedOut])).toEqual([
      ['10-select-disk', 0, false], ['20-partition', 0, false], ['30-write-image', 1, false], ['40-configure', 1, false], ['50-bootloaders', 1, false],
    ]);
    expect(JSON.parse(b64(results[0]!.files['disk.json']!).toString())).toMatchObject({ device: dev, chosenBy: 'DEPLOY_DISK' });
    expect(lastLine(results[2]!.stderr)).toMatch(/^the image's sha256 is [0-9a-f]{64}, not 0{64}: corrupted in transit/);
    expect(lastLine(results[3]!.stderr)).toBe('skipped: 30-write-image failed');
    expect(lastLine(results[4]!.stderr)).toBe('skipped: 30-write-image failed');
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(tmp.path); // the failing step unmounted the root
  }, 60_000);

  test('an erase: parameters from the .env, GNU tools despite busybox first on PATH', async () => {
    const dev = loops.attach(8 * MiB, 0xab);
    api.tar = await scriptsTar([{ name: '10-erase-disks', timeout: 600, content: readFileSync(join(builtinDir, '10-erase-disks')), env: { ERASE_MODE: 'full', ERASE_DISKS: dev } }]);
    const run = await runRunner(imageLib());
    expect(run.code, run.stdout).toBe(0);
    const [result] = api.results();
    expect(result).toMatchObject({ name: '10-erase-disks', exitCode: 0 });
    expect(b64(result!.stdout).toString()).toMatch(new RegExp(`^${dev.slice(5)}: zeroout, ${8 * MiB} bytes, `));
    expect(JSON.parse(b64(result!.files['erase.json']!).toString())).toMatchObject([{ disk: dev.slice(5), verified: true }]);
    expect(readFileSync(dev).every((b) => b === 0)).toBe(true);
  });
});
