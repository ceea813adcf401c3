// Synthetic image folders for the image store tests: real files and a real manifest.json, written
// the way a recipe writes them.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export interface FakeImage<Role extends string = 'kernel' | 'initrd' | 'rootfs'> {
  readonly dir: string;
  readonly manifest: Record<string, unknown>;
  readonly contents: Record<Role, string>;
}

/** Writes `<imagesDir>/<name>/` with vmlinuz, initrd.img, rootfs.squashfs and manifest.json. */
export function writeImage(imagesDir: string, name: string, opts: { rootfs?: boolean; recipeSha256?: string } = {}): FakeImage {
  const dir = join(imagesDir, name);
  mkdirSync(dir, { recursive: true });
  const contents = { kernel: `kernel of ${name}`, initrd: `initrd of ${name}\n`, rootfs: `rootfs of ${name}!!` };
  const entry = (path: string, data: string): Record<string, unknown> => {
    writeFileSync(join(dir, path), data);
    return { path, size: Buffer.byteLength(data), sha256: sha256(data) };
  };
  const files: Record<string, unknown> = {
    kernel: entry('vmlinuz', contents.kernel),
    initrd: entry('initrd.img', contents.initrd),
  };
  if (opts.rootfs !== false) files.rootfs = entry('rootfs.squashfs', contents.rootfs);
  const manifest = {
    name, version: '6.1.0-99-amd64', arch: 'x86_64', builtAt: '2025-01-02T03:04:05Z',
    recipeSha256: opts.recipeSha256 ?? sha256(`recipe ${name}`), files, buildSeconds: 1.5,
  };
  writeManifest(dir, manifest);
  return { dir, manifest, contents };
}

/** Writes `<imagesDir>/<name>/` as a disk image: root.tar.zst (not a real tarball), localboot.efi, manifest.json. */
export function writeDiskImage(imagesDir: string, name: string, opts: { localboot?: boolean; importedFrom?: string } = {}): FakeImage<'root' | 'localboot'> {
  const dir = join(imagesDir, name);
  mkdirSync(dir, { recursive: true });
  const contents = { root: `root of ${name}`, localboot: `MZ localboot of ${name}` };
  const entry = (path: string, data: string): Record<string, unknown> => {
    writeFileSync(join(dir, path), data);
    return { path, size: Buffer.byteLength(data), sha256: sha256(data) };
  };
  const files: Record<string, unknown> = { root: entry('root.tar.zst', contents.root) };
  if (opts.localboot !== false) files.localboot = entry('localboot.efi', contents.localboot);
  const manifest = {
    name, kind: 'disk', version: 'bookworm-6.1.0-99-amd64', arch: 'x86_64', builtAt: '2025-01-02T03:04:05Z',
    recipeSha256: sha256(`recipe ${name}`), format: 'tar.zst', rootBytes: 700_000_000, files,
    ...(opts.importedFrom ? { importedFrom: opts.importedFrom } : {}),
  };
  writeManifest(dir, manifest);
  return { dir, manifest, contents };
}

export function writeManifest(dir: string, manifest: unknown): void {
  writeFileSync(join(dir, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
}

/** A fresh temp folder and its removal, for beforeEach/afterEach. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `netboot-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
