// The image store: every built image under one folder, looked up by name, and every file by its
// opaque content id (STYLE.md §5, after pixiecore urlsign.go / matchbox storage/fs.go: clients name
// ids, never paths). A snapshot: the ImageCatalogue (catalogue.ts) swaps in a fresh open() after a build.
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageMissingError } from '../errors.js';
import { IMAGE_NAME, loadImage } from './manifest.js';
import type { FileVerifyResult, Image, ImageFile, ImageVerifyResult } from './types.js';

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

function imageFiles(image: Image): ImageFile[] {
  const { kernel, initrd, rootfs } = image.files;
  return rootfs ? [kernel, initrd, rootfs] : [kernel, initrd];
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
