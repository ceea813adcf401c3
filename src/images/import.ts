// `netboot images import NAME --root FILE`: the operator's own OS root as a disk image, next to the
// built debian-disk. The tarball is checked before anything is published: the installer only
// extracts tar.zst, and a root without cloud-init or a kernel would install but never report back
// or never boot, so those are refused here with the reason instead of failing on a machine later.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { ImageError } from '../errors.js';
import { IMAGE_NAME, loadImage, MANIFEST, type Manifest } from './manifest.js';
import type { DiskImage } from './types.js';

export interface ImportDiskImageOptions {
  readonly name: string;
  /** Folder of images; the image goes to `<imagesDir>/<name>`. */
  readonly imagesDir: string;
  /** The root tarball, `.tar.zst`. */
  readonly rootFile: string;
  /** Replace an image of that name (imported or built). */
  readonly force?: boolean;
  readonly arch?: string;
  readonly now?: () => Date;
}

/** What the listing of a root tarball says about it. */
export interface RootListing {
  /** Sum of the regular files' sizes: the bytes the installer writes (rootBytes). */
  readonly bytes: number;
  readonly entries: number;
  readonly hasCloudInit: boolean;
  /** Kernel releases of boot/vmlinuz-*, sorted. */
  readonly kernels: readonly string[];
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const STDERR_LIMIT = 2000;

/** ./usr/bin/x, /usr/bin/x and usr/bin/x are the same member. */
function memberPath(name: string): string {
  return name.replace(/^(\.?\/)+/, '');
}

function releaseOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Lists a tar.zst with the host's zstd (installed by scripts/install-deps.sh) and tar-stream; the
 * members are read, never written anywhere.
 */
export async function listRootTarball(file: string): Promise<RootListing> {
  const zstd = spawn('zstd', ['-dc', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  zstd.stderr.on('data', (chunk: Buffer) => { if (stderr.length < STDERR_LIMIT) stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolvePromise, reject) => {
    zstd.on('error', (err) => reject(new ImageError(`cannot run zstd to read ${file} (install it: apt-get install -y zstd): ${err.message}`, { cause: err })));
    zstd.on('close', (code) => resolvePromise(code));
  });
  let bytes = 0;
  let entries = 0;
  let hasCloudInit = false;
  const kernels: string[] = [];
  const tar = extract();
  tar.on('entry', (header, body, next) => {
    entries += 1;
    const path = memberPath(header.name);
    if (header.type === 'file' || header.type === 'contiguous-file') bytes += header.size ?? 0;
    // A symlink counts: a distribution may install cloud-init elsewhere and link it.
    if (path === 'usr/bin/cloud-init' && header.type !== 'directory') hasCloudInit = true;
    const kernel = /^boot\/vmlinuz-([^/]+)$/.exec(path);
    if (kernel?.[1] && header.type !== 'directory') kernels.push(kernel[1]);
    body.on('end', next);
    body.resume();
  });
  try {
    await pipeline(zstd.stdout, tar);
  } catch (err) {
    zstd.kill();
    await exited.catch(() => undefined);
    const why = stderr.trim() || (err as Error).message;
    throw new ImageError(`${file} is not a readable tar.zst: ${why}`, { cause: err });
  }
  const code = await exited;
  if (code !== 0) throw new ImageError(`${file} is not a readable tar.zst: zstd exit code ${code}: ${stderr.trim()}`);
  return { bytes, entries, hasCloudInit, kernels: kernels.sort(releaseOrder) };
}

/** Why this listing cannot be installed, or undefined when it can. */
export function rootRefusal(listing: RootListing): string | undefined {
  if (listing.kernels.length === 0) return 'it has no kernel (boot/vmlinuz-*): the installed disk would not boot';
  if (!listing.hasCloudInit) {
    return 'it has no cloud-init (usr/bin/cloud-init): the machine would never fetch its seed or report that it is deployed';
  }
  return undefined;
}

async function refuseFormat(file: string): Promise<void> {
  if (!file.endsWith('.tar.zst')) {
    throw new ImageError(`${file}: a root must be a zstd-compressed tarball named *.tar.zst (the only format the installer extracts); `
      + `make one with: tar --numeric-owner --xattrs --xattrs-include='*' --acls -C ROOT -cf - . | zstd -T0 -o root.tar.zst`);
  }
  const head = Buffer.alloc(4);
  let handle;
  try {
    handle = await open(file, 'r');
    await handle.read(head, 0, 4, 0);
  } catch (err) {
    throw new ImageError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle?.close();
  }
  if (!head.equals(ZSTD_MAGIC)) throw new ImageError(`${file} is named .tar.zst but is not zstd-compressed (no zstd frame magic)`);
}

/** Copies src to dest and returns its sha256, in one read. */
async function copyHashing(src: string, dest: string): Promise<string> {
  const hash = createHash('sha256');
  const source = createReadStream(src);
  source.on('data', (chunk) => hash.update(chunk));
  await pipeline(source, createWriteStream(dest, { flags: 'wx' }));
  return hash.digest('hex');
}

/**
 * Imports a root tarball as disk image `name`: refused (nothing written) when it is not tar.zst or
 * has no kernel or cloud-init; else copied into `<imagesDir>/<name>/root.tar.zst` with its manifest
 * and published with one rename, so a reader never sees half an image.
 */
export async function importDiskImage(opts: ImportDiskImageOptions): Promise<DiskImage> {
  const { name } = opts;
  if (!IMAGE_NAME.test(name)) {
    throw new ImageError(`invalid image name '${name}': lower-case letters, digits and '-', starting with a letter or digit`);
  }
  const rootFile = resolve(opts.rootFile);
  await refuseFormat(rootFile);
  const imagesDir = resolve(opts.imagesDir);
  const outDir = join(imagesDir, name);
  if (!opts.force && await stat(join(outDir, MANIFEST)).then(() => true, () => false)) {
    throw new ImageError(`image '${name}' exists in ${imagesDir}: choose another name, or replace it with --force`);
  }
  const listing = await listRootTarball(rootFile);
  const refusal = rootRefusal(listing);
  if (refusal) throw new ImageError(`${rootFile} cannot be imported: ${refusal}`);

  await mkdir(imagesDir, { recursive: true });
  // The dot keeps the store from reading it (IMAGE_NAME has none), as with build.sh's <name>.tmp.<pid>.
  const tmp = await mkdtemp(join(imagesDir, `${name}.import.`));
  try {
    const sha256 = await copyHashing(rootFile, join(tmp, 'root.tar.zst'));
    const { size } = await stat(join(tmp, 'root.tar.zst'));
    const manifest: Manifest = {
      name,
      kind: 'disk',
      // The newest kernel: what the installed GRUB boots by default.
      version: listing.kernels.at(-1) ?? 'unknown',
      arch: opts.arch ?? 'x86_64',
      builtAt: (opts.now?.() ?? new Date()).toISOString(),
      // An imported image has no recipe: the tarball's own hash stands in, so it differs from every
      // recipe hash and `images build` never mistakes it for an up-to-date build.
      recipeSha256: sha256,
      importedFrom: rootFile,
      format: 'tar.zst',
      rootBytes: listing.bytes,
      files: { root: { path: 'root.tar.zst', size, sha256 } },
    };
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await publish(tmp, outDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const image = loadImage(imagesDir, name);
  if (image?.kind !== 'disk') throw new ImageError(`image '${name}' was imported but does not read back as a disk image`);
  return image;
}

/** tmp becomes dir: two renames, as build.sh's publish_output (no renameat2 exchange in Node). */
async function publish(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old.${process.pid}`;
  const hadOld = await rename(dir, old).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false;
    throw err;
  });
  await rename(tmp, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}
