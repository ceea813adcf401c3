// Image kinds: disk images (debian-disk, imported roots) next to boot images in one store, and the
// lookups that keep each where it belongs (the Booter boots only boot images, deploy takes only disks).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ImageError, NotFoundError } from '../../src/errors.js';
import { ImageCatalogue, ImageStore } from '../../src/images/index.js';
import { sha256, tempDir, writeDiskImage, writeImage, writeManifest } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => { tmp = tempDir('disk-images'); });
afterEach(() => tmp.remove());

describe('manifest kinds', () => {
  test('a manifest without kind is a boot image; kind disk has root, localboot, rootBytes and format', () => {
    writeImage(tmp.path, 'micro');
    const disk = writeDiskImage(tmp.path, 'debian-disk');
    const store = ImageStore.open(tmp.path);
    expect(store.get('micro').kind).toBe('boot');
    const image = store.diskImage('debian-disk');
    expect(image).toMatchObject({ kind: 'disk', format: 'tar.zst', rootBytes: 700_000_000, version: 'bookworm-6.1.0-99-amd64' });
    expect(image.files.root).toEqual({
      id: sha256(disk.contents.root), role: 'root', path: join(disk.dir, 'root.tar.zst'),
      size: disk.contents.root.length, sha256: sha256(disk.contents.root), image: 'debian-disk',
    });
    expect(image.files.localboot?.role).toBe('localboot');
    expect(image.importedFrom).toBeUndefined();
  });

  test('disk files are served by id like boot files', () => {
    const disk = writeDiskImage(tmp.path, 'debian-disk');
    const store = ImageStore.open(tmp.path);
    expect(store.fileById(sha256(disk.contents.root))?.role).toBe('root');
    expect(store.fileById(sha256(disk.contents.localboot))?.role).toBe('localboot');
  });

  test('localboot is optional', () => {
    writeDiskImage(tmp.path, 'mine', { localboot: false });
    expect(ImageStore.open(tmp.path).diskImage('mine').files.localboot).toBeUndefined();
  });

  const bad: { name: string; edit: (m: Record<string, unknown>) => Record<string, unknown>; want: RegExp }[] = [
    { name: 'a disk manifest with boot files', edit: (m) => ({ ...m, files: { kernel: (m.files as Record<string, unknown>).root } }), want: /\/files/ },
    { name: 'a disk manifest without rootBytes', edit: ({ rootBytes: _, ...m }) => m, want: /rootBytes/ },
    { name: 'another format', edit: (m) => ({ ...m, format: 'raw.img.zst' }), want: /\/format/ },
    { name: 'a fractional rootBytes', edit: (m) => ({ ...m, rootBytes: 1.5 }), want: /\/rootBytes/ },
    { name: 'an unknown kind', edit: (m) => ({ ...m, kind: 'iso' }), want: /\/kind/ },
    { name: 'environment on a disk image', edit: (m) => ({ ...m, environment: 'agent' }), want: /environment/ },
  ];
  test.each(bad)('$name is refused naming the field', ({ edit, want }) => {
    const disk = writeDiskImage(tmp.path, 'debian-disk');
    writeManifest(disk.dir, edit(disk.manifest));
    expect(() => ImageStore.open(tmp.path)).toThrow(ImageError);
    expect(() => ImageStore.open(tmp.path)).toThrow(want);
  });
});

describe('lookups by kind', () => {
  beforeEach(() => {
    writeImage(tmp.path, 'micro');
    writeImage(tmp.path, 'debian');
    writeDiskImage(tmp.path, 'debian-disk');
    writeDiskImage(tmp.path, 'mine', { localboot: false });
  });

  test('diskImage: an unknown name is a 404 listing the disk images', () => {
    const store = ImageStore.open(tmp.path);
    expect(() => store.diskImage('ubuntu')).toThrow(NotFoundError);
    expect(() => store.diskImage('ubuntu')).toThrow("unknown image 'ubuntu': the disk images are debian-disk, mine");
    try {
      store.diskImage('ubuntu');
    } catch (err) {
      expect((err as NotFoundError).statusCode).toBe(404);
    }
  });

  test('diskImage: a boot image is not deployable, and the error says so', () => {
    expect(() => ImageStore.open(tmp.path).diskImage('micro'))
      .toThrow("image 'micro' is a boot image, not a disk image: the disk images are debian-disk, mine");
  });

  test('diskImage with no disk images at all says (none)', () => {
    const only = tempDir('boot-only');
    try {
      writeImage(only.path, 'micro');
      expect(() => ImageStore.open(only.path).diskImage('debian-disk')).toThrow('the disk images are (none)');
    } finally {
      only.remove();
    }
  });

  test('bootImage: a disk image named as an environment is an error listing the boot images', () => {
    const store = ImageStore.open(tmp.path);
    expect(store.bootImage('micro').files.kernel.role).toBe('kernel');
    expect(() => store.bootImage('debian-disk')).toThrow(ImageError);
    expect(() => store.bootImage('debian-disk')).toThrow(/'debian-disk' is a disk image .* name a boot image instead \(debian, micro\)/);
  });

  test('the catalogue offers the same lookups and reloads on a miss', () => {
    let now = 0;
    const catalogue = ImageCatalogue.open(tmp.path, { now: () => now, missReloadMs: 1000 });
    expect(catalogue.diskImage('debian-disk').kind).toBe('disk');
    expect(() => catalogue.bootImage('mine')).toThrow(ImageError);
    writeDiskImage(tmp.path, 'late');
    now = 5000;
    expect(catalogue.diskImage('late').name).toBe('late');
  });
});
