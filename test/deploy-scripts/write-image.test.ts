// 30-write-image against a real root tarball (tar | zstd) served by our Range-capable HTTP server,
// into a plain folder as the target: the download resumes after a dropped connection, and a wrong
// sha256 or size fails with a clear reason.
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from '../images/fixtures.js';
import { hasZstd, RangeServer, rootTarball, runScript, sha256 } from './harness.js';

let tmp: ReturnType<typeof tempDir>;
let server: RangeServer | undefined;
let image: Buffer;
let state: string;
let out: string;
beforeEach(() => {
  tmp = tempDir('write-image');
  image = rootTarball(tmp.path);
  state = join(tmp.path, 'state');
  out = join(tmp.path, 'out');
  mkdirSync(join(state, 'target'), { recursive: true });
  mkdirSync(out);
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  tmp.remove();
});

async function write(dropOnce: number | undefined, env: Record<string, string> = {}, noRange = false) {
  server = new RangeServer({ '/img/root.tar.zst': image }, dropOnce, noRange);
  const base = await server.start();
  return runScript('30-write-image', join(tmp.path, 'cwd'), {
    NETBOOT_OUTPUT_DIR: out, DEPLOY_STATE_DIR: state, DEPLOY_IMAGE_URL: `${base}/img/root.tar.zst`,
    DEPLOY_IMAGE_SHA256: sha256(image), DEPLOY_IMAGE_BYTES: String(image.length), DEPLOY_ROOT_BYTES: '4194304', ...env,
  });
}
const target = (rel: string) => join(state, 'target', rel);

describe.skipIf(!hasZstd)('30-write-image', () => {
  test('a connection dropped mid-stream is resumed with Range; the tree and its checksum are right', async () => {
    const cut = Math.floor(image.length / 2);
    const r = await write(cut);
    expect(r.code, r.stderr).toBe(0);
    expect(server!.requests.map((q) => q.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(server!.requests.every((q) => q.auth === 'Bearer tok-test')).toBe(true);
    expect(r.stderr).toMatch(/^attempt 1: curl: \(18\) .* after \d+ bytes; resuming$/m);
    expect(r.stdout).toMatch(new RegExp(`^downloaded ${image.length} bytes in [0-9.]+ s \\([0-9.]+ MiB/s, 2 attempts\\), wrote \\d+ bytes to the root, sha256 ok\\n$`));
    expect(readFileSync(target('etc/hostname'), 'utf8')).toBe('debian\n');
    // Compared by digest: toEqual on 2 MiB buffers takes vitest seconds.
    expect(sha256(readFileSync(target('usr/lib/payload.bin')))).toBe(sha256(readFileSync(join(tmp.path, 'tree/usr/lib/payload.bin'))));
    expect(statSync(target('usr/lib/payload.bin')).mode & 0o7777).toBe(0o4755);
    expect(readlinkSync(target('lib'))).toBe('usr/lib');
    const report = JSON.parse(readFileSync(join(out, 'write-image.json'), 'utf8')) as Record<string, number>;
    expect(report).toEqual({ downloadedBytes: image.length, writtenBytes: expect.any(Number), seconds: expect.any(Number), mibPerSecond: expect.any(Number) });
    expect(report.writtenBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(existsSync(join(state, 'failed'))).toBe(false);
  });

  test('a wrong sha256 fails with both sums, and later steps skip', async () => {
    const wrong = 'ab'.repeat(32);
    const r = await write(undefined, { DEPLOY_IMAGE_SHA256: wrong.toUpperCase() });
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe(`the image's sha256 is ${sha256(image)}, not ${wrong}: corrupted in transit or changed on the appliance`);
    expect(readFileSync(join(state, 'failed'), 'utf8')).toBe('30-write-image\n');
    const next = await runScript('40-configure', join(tmp.path, 'cwd2'), { DEPLOY_STATE_DIR: state });
    expect(next.code).toBe(1);
    expect(next.lastErr).toBe('skipped: 30-write-image failed');
  });

  test('a size other than announced and a server that never answers are clear failures', async () => {
    let r = await write(undefined, { DEPLOY_IMAGE_BYTES: String(image.length + 1) });
    expect(r.lastErr).toBe(`the image is ${image.length} bytes, not the ${image.length + 1} bytes the appliance announced`);
    await server!.stop();
    rmSync(join(state, 'failed'));
    r = await write(undefined, { DEPLOY_IMAGE_URL: 'http://127.0.0.1:9/nothing-listens-here', DEPLOY_IMAGE_BYTES: '10' });
    expect(r.code).toBe(1);
    expect(r.lastErr).toMatch(/^the image download failed after 5 attempts and 0 of 10 bytes: curl: \(7\) /);
  }, 30_000);

  test('a server that ignores Range cannot resume: a clear failure', async () => {
    const cut = Math.floor(image.length / 2);
    const r = await write(cut, {}, true);
    expect(r.code).toBe(1);
    expect(r.lastErr).toBe(`the image server does not support HTTP Range, so the download cannot resume at byte ${cut}: curl: (33) HTTP server doesn't seem to support byte ranges. Cannot resume.`);
  });

  test('an HTTP error is final (no retries)', async () => {
    server = new RangeServer({});
    const base = await server.start();
    const r = await runScript('30-write-image', join(tmp.path, 'cwd'), {
      NETBOOT_OUTPUT_DIR: out, DEPLOY_STATE_DIR: state, DEPLOY_IMAGE_URL: `${base}/img/gone.tar.zst`,
      DEPLOY_IMAGE_SHA256: sha256(image), DEPLOY_IMAGE_BYTES: '10', DEPLOY_ROOT_BYTES: '0',
    });
    expect(r.code).toBe(1);
    expect(r.lastErr).toMatch(/^the image download failed: curl: \(22\) The requested URL returned error: 404 \(http:/);
    expect(server.requests).toHaveLength(1);
  });
});
