// `netboot images import`: small synthetic roots made with the host's tar and zstd, as an operator
// would make a real one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ImageError } from '../../src/errors.js';
import { ImageStore, importDiskImage, listRootTarball } from '../../src/images/index.js';
import { sha256, tempDir, writeImage } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let imagesDir: string;
beforeEach(() => {
  tmp = tempDir('import');
  imagesDir = join(tmp.path, 'images');
});
afterEach(() => tmp.remove());

/** A root folder with the given files (path -> content), tarred and zstd-compressed into `file`. */
function makeRoot(file: string, members: Record<string, string>, opts: { compress?: boolean } = {}): string {
  const root = join(tmp.path, `root-${readdirSync(tmp.path).length}`);
  for (const [path, content] of Object.entries(members)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(join(root, 'etc'), { recursive: true });
  const tarball = execFileSync('tar', ['--numeric-owner', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
  const out = join(tmp.path, file);
  writeFileSync(out, opts.compress === false ? tarball : execFileSync('zstd', ['-q', '-c'], { input: tarball }));
  return out;
}

const complete = {
  'usr/bin/cloud-init': '#!/usr/bin/python3\n',
  'boot/vmlinuz-6.1.0-57-amd64': 'k'.repeat(1000),
  'boot/vmlinuz-6.1.0-9-amd64': 'old kernel',
  'usr/lib/os-release': 'ID=debian\n',
};
const completeBytes = Object.values(complete).reduce((n, c) => n + Buffer.byteLength(c), 0);
const now = (): Date => new Date('2026-12-06T05:00:00Z');

describe('listRootTarball', () => {
  test('sums the regular files and finds cloud-init and the kernels', async () => {
    const listing = await listRootTarball(makeRoot('root.tar.zst', complete));
    expect(listing).toMatchObject({ bytes: completeBytes, hasCloudInit: true, kernels: ['6.1.0-9-amd64', '6.1.0-57-amd64'] });
  });
});

describe('importDiskImage', () => {
  test('copies the tarball, writes a disk manifest and publishes it', async () => {
    const file = makeRoot('mine.tar.zst', complete);
    const image = await importDiskImage({ name: 'mine', imagesDir, rootFile: file, now });
    expect(image).toMatchObject({
      name: 'mine', kind: 'disk', format: 'tar.zst', rootBytes: completeBytes, version: '6.1.0-57-amd64',
      builtAt: '2026-12-06T05:00:00.000Z', importedFrom: file, arch: 'x86_64',
    });
    const bytes = readFileSync(file);
    expect(image.files.root).toMatchObject({ path: join(imagesDir, 'mine', 'root.tar.zst'), size: bytes.length, sha256: sha256(bytes) });
    expect(image.recipeSha256).toBe(sha256(bytes));
    expect(image.files.localboot).toBeUndefined();
    expect(readdirSync(imagesDir)).toEqual(['mine']);
    expect(ImageStore.open(imagesDir).diskImage('mine').rootBytes).toBe(completeBytes);
  });

  test('a cloud-init that is a symlink counts', async () => {
    const file = join(tmp.path, 'linked.tar.zst');
    const root = join(tmp.path, 'linked-root');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'boot'), { recursive: true });
    writeFileSync(join(root, 'boot/vmlinuz-6.1.0-57-amd64'), 'k');
    symlinkSync('../lib/ci/cloud-init', join(root, 'usr/bin/cloud-init'));
    writeFileSync(file, execFileSync('zstd', ['-q', '-c'], { input: execFileSync('tar', ['-C', root, '-cf', '-', '.']) }));
    expect((await importDiskImage({ name: 'linked', imagesDir, rootFile: file })).kind).toBe('disk');
  });

  const refusals: { name: string; file: () => string; want: RegExp }[] = [
    { name: 'no cloud-init', file: () => makeRoot('a.tar.zst', { 'boot/vmlinuz-6.1.0-57-amd64': 'k' }), want: /no cloud-init \(usr\/bin\/cloud-init\)/ },
    { name: 'no kernel', file: () => makeRoot('b.tar.zst', { 'usr/bin/cloud-init': 'c' }), want: /no kernel \(boot\/vmlinuz-\*\)/ },
    { name: 'another format (.tar.gz)', file: () => makeRoot('c.tar.gz', complete), want: /must be a zstd-compressed tarball named \*\.tar\.zst/ },
    { name: 'a plain tar named .tar.zst', file: () => makeRoot('d.tar.zst', complete, { compress: false }), want: /is not zstd-compressed/ },
    {
      name: 'zstd that is not a tar', want: /is not a readable tar\.zst/,
      file: () => {
        const out = join(tmp.path, 'e.tar.zst');
        writeFileSync(out, execFileSync('zstd', ['-q', '-c'], { input: Buffer.from('not a tarball at all '.repeat(100)) }));
        return out;
      },
    },
  ];
  test.each(refusals)('refuses $name with the reason and writes nothing', async ({ file, want }) => {
    const path = file();
    await expect(importDiskImage({ name: 'mine', imagesDir, rootFile: path })).rejects.toThrow(ImageError);
    await expect(importDiskImage({ name: 'mine', imagesDir, rootFile: path })).rejects.toThrow(want);
    expect(existsSync(imagesDir) ? readdirSync(imagesDir) : []).toEqual([]);
  });

  test('refuses a bad name and an existing image unless forced', async () => {
    const file = makeRoot('mine.tar.zst', complete);
    await expect(importDiskImage({ name: 'My.Image', imagesDir, rootFile: file })).rejects.toThrow(/invalid image name/);
    writeImage(imagesDir, 'micro');
    await expect(importDiskImage({ name: 'micro', imagesDir, rootFile: file })).rejects.toThrow(/image 'micro' exists .* --force/);
    expect(ImageStore.open(imagesDir).get('micro').kind).toBe('boot');
    const replaced = await importDiskImage({ name: 'micro', imagesDir, rootFile: file, force: true });
    expect(replaced.kind).toBe('disk');
    expect(readdirSync(join(imagesDir, 'micro')).sort()).toEqual(['manifest.json', 'root.tar.zst']);
    expect(readdirSync(imagesDir)).toEqual(['micro']);
  });
});
