// The image store: every built image under one folder, looked up by name, and every file by its
// opaque content id (STYLE.md §5, after pixiecore urlsign.go / matchbox storage/fs.go: clients name
// ids, never paths). A snapshot: the ImageCatalogue (catalogue.ts) swaps in a fresh open() after a build.
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageError, ImageMissingError, NotFoundError } from '../errors.js';
import { IMAGE_NAME, loadImage } from './manifest.js';
import type { BootImage, DiskImage, FileVerifyResult, Image, ImageFile, ImageVerifyResult } from './types.js';

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** Follows symlinks; a dangling one is not a folder. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function imageFiles(image: Image): ImageFile[] {
  if (image.kind === 'disk') {
    const { root, localboot } = image.files;
    return localboot ? [root, localboot] : [root];
  }
  const { kernel, initrd, rootfs } = image.files;
  return rootfs ? [kernel, initrd, rootfs] : [kernel, initrd];
}

/** "debian-disk, ubuntu-disk" or "(none)", for errors that list what there is. */
function names(images: readonly Image[]): string {
  return images.map((i) => i.name).join(', ') || '(none)';
}

export class ImageStore {
  private constructor(
    /** Absolute folder the store was opened on. */
    readonly dir: string,
    private readonly images: ReadonlyMap<string, Image>,
    private readonly files: ReadonlyMap<string, ImageFile>,
  ) {}

  /**
   * Reads every `<dir>/<name>/manifest.json` and checks that each file exists with its recorded size.
   * A missing dir is an empty store (nothing built yet). Folders whose names are not image names
   * (e.g. build.sh's `micro.tmp.<pid>`) or that have no manifest are skipped. Throws ImageError,
   * naming the file, for a bad manifest or a missing or truncated file.
   */
  static open(dir: string): ImageStore {
    const root = resolve(dir);
    let names: string[];
    try {
      names = readdirSync(root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else throw err;
    }
    const images = new Map<string, Image>();
    const files = new Map<string, ImageFile>();
    for (const name of names.filter((n) => IMAGE_NAME.test(n)).sort()) {
      if (!isDirectory(join(root, name))) continue;
      const image = loadImage(root, name);
      if (!image) continue;
      images.set(name, image);
      // Identical content in two images shares one id; either file serves it.
      for (const file of imageFiles(image)) if (!files.has(file.id)) files.set(file.id, file);
    }
    return new ImageStore(root, images, files);
  }

  /** The image, or ImageMissingError telling the operator how to build it. */
  get(name: string): Image {
    const image = this.images.get(name);
    if (!image) throw new ImageMissingError(`image '${name}' is not built: run \`netboot images build ${name}\``);
    return image;
  }

  find(name: string): Image | undefined {
    return this.images.get(name);
  }

  /**
   * The image an environment boots (enlist, commission ...): ImageMissingError when it is not built,
   * ImageError when it names a disk image, which has no kernel to boot.
   */
  bootImage(name: string): BootImage {
    return asBootImage(this.get(name), this.list());
  }

  /**
   * The disk image to deploy: NotFoundError (404 through the API) listing the disk images there are,
   * when there is none by that name or it is a boot image.
   */
  diskImage(name: string): DiskImage {
    const image = this.images.get(name);
    if (image?.kind === 'disk') return image;
    const disks = this.list().filter((i) => i.kind === 'disk');
    const what = image ? `image '${name}' is a boot image, not a disk image` : `unknown image '${name}'`;
    throw new NotFoundError(`${what}: the disk images are ${names(disks)}`);
  }

  /** The file with this content id, from any image. */
  fileById(id: string): ImageFile | undefined {
    return this.files.get(id);
  }

  /** All images, by name. */
  list(): Image[] {
    return [...this.images.values()];
  }

  /** Recomputes every file's sha256 and compares it with the manifest. */
  async verify(name: string): Promise<ImageVerifyResult> {
    const image = this.get(name);
    const files: FileVerifyResult[] = [];
    for (const file of imageFiles(image)) {
      try {
        const actual = await sha256File(file.path);
        files.push({ role: file.role, path: file.path, expected: file.sha256, actual, ok: actual === file.sha256 });
      } catch (err) {
        files.push({
          role: file.role, path: file.path, expected: file.sha256, actual: null, ok: false,
          error: (err as Error).message,
        });
      }
    }
    return { name, ok: files.every((f) => f.ok), files };
  }
}

/** The boot image itself, or why a disk image cannot be booted. */
export function asBootImage(image: Image, all: readonly Image[]): BootImage {
  if (image.kind === 'boot') return image;
  const boot = all.filter((i) => i.kind === 'boot');
  throw new ImageError(`image '${image.name}' is a disk image (written to disks by the installer), not an environment `
    + `that boots over the network: name a boot image instead (${names(boot)})`);
}
