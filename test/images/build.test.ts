// buildImage with a tiny real recipe (testdata/fake-build.sh) in a temp folder: the real mechanism,
// a script that writes an image the way images/micro/build.sh does, including its recipe hash.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ImageError } from '../../src/errors.js';
import { buildImage, ImageStore, listRecipes, recipeSha256 } from '../../src/images/index.js';
import { tempDir, writeDiskImage } from './fixtures.js';

const FAKE_RECIPE = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'fake-build.sh');

let tmp: ReturnType<typeof tempDir>;
let recipesDir: string;
let imagesDir: string;
let runsFile: string;
beforeEach(() => {
  tmp = tempDir('build');
  recipesDir = join(tmp.path, 'recipes');
  imagesDir = join(tmp.path, 'cache', 'images');
  runsFile = join(tmp.path, 'runs');
  mkdirSync(join(recipesDir, 'fake', 'lib'), { recursive: true });
  copyFileSync(FAKE_RECIPE, join(recipesDir, 'fake', 'build.sh'));
  chmodSync(join(recipesDir, 'fake', 'build.sh'), 0o755);
  writeFileSync(join(recipesDir, 'fake', 'version'), '1.0');
  writeFileSync(join(recipesDir, 'fake', 'lib', 'helper.sh'), '# nested file, part of the hash\n');
  mkdirSync(join(recipesDir, 'notes')); // no build.sh: not a recipe
});
afterEach(() => tmp.remove());

const runs = (): number => (existsSync(runsFile) ? readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).length : 0);
const build = (extra: Partial<Parameters<typeof buildImage>[0]> = {}, env: NodeJS.ProcessEnv = {}): ReturnType<typeof buildImage> =>
  buildImage({ name: 'fake', imagesDir, recipesDir, env: { ...process.env, RUNS_FILE: runsFile, ...env }, ...extra });

describe('buildImage', () => {
  test('runs the recipe, streams its stdout lines and returns the image', async () => {
    const lines: string[] = [];
    const result = await build({ onProgress: (l) => lines.push(l) });
    expect(result.skipped).toBe(false);
    expect(lines).toEqual(['[1/2] writing files', '[2/2] done']);
    expect(result.image).toMatchObject({ name: 'fake', version: '1.0', recipeSha256: await recipeSha256(join(recipesDir, 'fake')) });
    expect(ImageStore.open(imagesDir).bootImage('fake').files.kernel.size).toBe('kernel 1.0'.length);
    expect(runs()).toBe(1);
  });

  test('skips when the image was built from the same recipe, unless forced', async () => {
    await build();
    const again = await build();
    expect(again.skipped).toBe(true);
    expect(runs()).toBe(1);
    const forced = await build({ force: true });
    expect(forced.skipped).toBe(false);
    expect(runs()).toBe(2);
  });

  test('rebuilds when any recipe file changes, nested ones included', async () => {
    await build();
    writeFileSync(join(recipesDir, 'fake', 'lib', 'helper.sh'), '# changed\n');
    expect((await build()).skipped).toBe(false);
    writeFileSync(join(recipesDir, 'fake', 'version'), '2.0');
    const result = await build();
    expect(result.skipped).toBe(false);
    expect(result.image.version).toBe('2.0');
    expect(runs()).toBe(3);
  });

  test('refuses to replace an imported image unless forced', async () => {
    writeDiskImage(imagesDir, 'fake', { importedFrom: '/srv/mine.tar.zst' });
    await expect(build()).rejects.toThrow("image 'fake' was imported from /srv/mine.tar.zst, not built: `netboot images build fake --force` replaces it");
    expect(runs()).toBe(0);
    expect((await build({ force: true })).image.kind).toBe('boot');
  });

  test('rebuilds an image whose files were damaged', async () => {
    await build();
    writeFileSync(ImageStore.open(imagesDir).bootImage('fake').files.initrd.path, 'truncated? no: longer than before');
    const lines: string[] = [];
    expect((await build({ onProgress: (l) => lines.push(l) })).skipped).toBe(false);
    expect(lines[0]).toMatch(/^existing image is unusable, rebuilding: image 'fake': initrd file/);
  });

  test('an unknown image lists the known recipes', async () => {
    await expect(build({ name: 'nope' })).rejects.toThrow(ImageError);
    await expect(build({ name: 'nope' })).rejects.toThrow(/unknown image 'nope': known recipes are fake \(in .*recipes\)/);
    expect(await listRecipes(recipesDir)).toEqual(['fake']);
  });

  test('a failing recipe gives ImageError with the exit code and the last stderr lines', async () => {
    const err: unknown = await build({}, { FAIL: '1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    const message = (err as Error).message;
    expect(message).toMatch(/building image 'fake' failed \(.*build\.sh, exit code 3\)/);
    expect(message).toContain('stderr line 30');
    expect(message).toContain('stderr line 16');
    expect(message).not.toContain('stderr line 15\n');
    expect(existsSync(join(imagesDir, 'fake'))).toBe(false);
  });

  test('abort kills the recipe and everything it started', async () => {
    const pidFile = join(tmp.path, 'slow.pid');
    const controller = new AbortController();
    const building = build({
      signal: controller.signal,
      onProgress: () => {
        // The first line comes before the recipe sleeps: wait until it has written its pids.
        const timer = setInterval(() => {
          if (existsSync(`${pidFile}.child`)) { clearInterval(timer); controller.abort(); }
        }, 20);
      },
    }, { SLOW: pidFile });
    await expect(building).rejects.toThrow(/building image 'fake' was cancelled/);
    const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const pids = [readFileSync(pidFile, 'utf8'), readFileSync(`${pidFile}.child`, 'utf8')].map(Number);
    await expect.poll(() => pids.filter(alive), { timeout: 2000 }).toEqual([]);
  });
});
