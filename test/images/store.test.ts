import { mkdirSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ImageError, ImageMissingError } from '../../src/errors.js';
import { ImageStore } from '../../src/images/index.js';
import { sha256, tempDir, writeImage, writeManifest } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => { tmp = tempDir('images'); });
afterEach(() => tmp.remove());

describe('ImageStore.open', () => {
  test('reads every image and resolves files to absolute paths with content ids', () => {
    const micro = writeImage(tmp.path, 'micro');
    writeImage(tmp.path, 'debian', { rootfs: false });
    const store = ImageStore.open(tmp.path);

    expect(store.list().map((i) => i.name)).toEqual(['debian', 'micro']);
    const image = store.bootImage('micro');
    expect(image).toMatchObject({
      name: 'micro', version: '6.1.0-99-amd64', arch: 'x86_64', builtAt: '2025-01-02T03:04:05Z', dir: micro.dir,
    });
    expect(image.files.kernel).toEqual({
      id: sha256(micro.contents.kernel), role: 'kernel', path: join(micro.dir, 'vmlinuz'),
      size: micro.contents.kernel.length, sha256: sha256(micro.contents.kernel), image: 'micro',
    });
    expect(image.files.rootfs?.role).toBe('rootfs');
    expect(store.bootImage('debian').files.rootfs).toBeUndefined();
  });

  test('fileById finds any file of any image by its sha256 and nothing else', () => {
    const micro = writeImage(tmp.path, 'micro');
    const store = ImageStore.open(tmp.path);
    const id = sha256(micro.contents.initrd);
    expect(store.fileById(id)).toMatchObject({ role: 'initrd', image: 'micro', path: join(micro.dir, 'initrd.img') });
    expect(store.fileById('0'.repeat(64))).toBeUndefined();
    expect(store.fileById('vmlinuz')).toBeUndefined();
  });

  test('a missing folder is an empty store', () => {
    const store = ImageStore.open(join(tmp.path, 'nope'));
    expect(store.list()).toEqual([]);
  });

  test('skips build folders in progress and folders without a manifest', () => {
    writeImage(tmp.path, 'micro');
    writeImage(tmp.path, 'micro.tmp.1234'); // build.sh's work folder: its manifest says "micro.tmp.1234"
    mkdirSync(join(tmp.path, 'empty'));
    writeFileSync(join(tmp.path, 'stray-file'), 'x');
    expect(ImageStore.open(tmp.path).list().map((i) => i.name)).toEqual(['micro']);
  });

  test('get of an image that is not built says how to build it', () => {
    const store = ImageStore.open(tmp.path);
    expect(() => store.get('micro')).toThrow(ImageMissingError);
    expect(() => store.get('micro')).toThrow("image 'micro' is not built: run `netboot images build micro`");
    expect(store.find('micro')).toBeUndefined();
  });
});

describe('ImageStore.open rejects a broken image, naming the file', () => {
  const cases: { name: string; damage: (dir: string, manifest: Record<string, unknown>) => void; want: RegExp }[] = [
    {
      name: 'manifest is not JSON',
      damage: (dir) => writeManifest(dir, '{ "name": "micro", '),
      want: /cannot read image manifest .*micro\/manifest\.json/,
    },
    {
      name: 'manifest lacks the kernel',
      damage: (dir, m) => writeManifest(dir, { ...m, files: { initrd: (m.files as Record<string, unknown>).initrd } }),
      want: /invalid image manifest .*micro\/manifest\.json: \/files\/kernel/,
    },
    {
      name: 'sha256 is not hex',
      damage: (dir, m) => writeManifest(dir, { ...m, recipeSha256: 'abc' }),
      want: /invalid image manifest .*manifest\.json: \/recipeSha256/,
    },
    {
      name: 'unknown field',
      damage: (dir, m) => writeManifest(dir, { ...m, kernelVersion: 'x' }),
      want: /invalid image manifest .*manifest\.json/,
    },
    {
      name: 'builtAt is not a time',
      damage: (dir, m) => writeManifest(dir, { ...m, builtAt: 'yesterday' }),
      want: /\/builtAt: not an ISO 8601 time/,
    },
    {
      name: 'name differs from the folder',
      damage: (dir, m) => writeManifest(dir, { ...m, name: 'other' }),
      want: /\/name is 'other' but the folder is 'micro'/,
    },
    {
      name: 'file path leaves the image folder',
      damage: (dir, m) => {
        const files = m.files as Record<string, Record<string, unknown>>;
        writeManifest(dir, { ...m, files: { ...files, kernel: { ...files.kernel, path: '../../etc/passwd' } } });
      },
      want: /\/files\/kernel\/path must name a file inside/,
    },
    {
      name: 'file is missing',
      damage: (dir) => unlinkSync(join(dir, 'initrd.img')),
      want: /image 'micro': initrd file .*micro\/initrd\.img is missing.*netboot images build micro --force/,
    },
    {
      name: 'file has the wrong size',
      damage: (dir) => truncateSync(join(dir, 'rootfs.squashfs'), 3),
      want: /image 'micro': rootfs file .*rootfs\.squashfs has 3 bytes, its manifest says 17/,
    },
  ];
  test.each(cases)('$name', ({ damage, want }) => {
    const { dir, manifest } = writeImage(tmp.path, 'micro');
    damage(dir, manifest);
    expect(() => ImageStore.open(tmp.path)).toThrow(ImageError);
    expect(() => ImageStore.open(tmp.path)).toThrow(want);
  });
});

describe('ImageStore.verify', () => {
  test('passes for intact files', async () => {
    writeImage(tmp.path, 'micro');
    const result = await ImageStore.open(tmp.path).verify('micro');
    expect(result.ok).toBe(true);
    expect(result.files.map((f) => [f.role, f.ok])).toEqual([['kernel', true], ['initrd', true], ['rootfs', true]]);
  });

  test('detects a file corrupted after open, same size', async () => {
    const { dir, contents } = writeImage(tmp.path, 'micro');
    const store = ImageStore.open(tmp.path);
    const corrupted = contents.kernel.replace('k', 'K');
    writeFileSync(join(dir, 'vmlinuz'), corrupted);
    const result = await store.verify('micro');
    expect(result.ok).toBe(false);
    expect(result.files[0]).toMatchObject({
      role: 'kernel', ok: false, expected: sha256(contents.kernel), actual: sha256(corrupted),
    });
    expect(result.files.slice(1).every((f) => f.ok)).toBe(true);
  });

  test('reports a file deleted after open instead of throwing', async () => {
    const { dir } = writeImage(tmp.path, 'micro');
    const store = ImageStore.open(tmp.path);
    unlinkSync(join(dir, 'initrd.img'));
    const result = await store.verify('micro');
    expect(result.ok).toBe(false);
    expect(result.files[1]).toMatchObject({ role: 'initrd', ok: false, actual: null, error: expect.stringMatching(/ENOENT/) });
  });

  test('of an image that is not built throws ImageMissingError', async () => {
    await expect(ImageStore.open(tmp.path).verify('micro')).rejects.toThrow(ImageMissingError);
  });
});
