// manifest.json: what a recipe (images/<name>/build.sh) writes last, after all files are in place.
// Validated with TypeBox, then every file is checked to exist with the recorded size; a full sha256
// pass is ImageStore.verify (too slow for start-up with a 150 MB squashfs).
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ImageError } from '../errors.js';
import type { Image, ImageFile, ImageRole } from './types.js';

/** Image and recipe names: also folder names, so no dots (build.sh works in <name>.tmp.<pid>). */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

const ManifestFile = Type.Object({
  /** Relative to the image folder. */
  path: Type.String({ minLength: 1 }),
  size: Type.Integer({ minimum: 0 }),
  sha256: Sha256,
}, { additionalProperties: false });

const Common = {
  name: Type.String({ pattern: IMAGE_NAME.source }),
  version: Type.String({ minLength: 1 }),
  arch: Type.String({ minLength: 1 }),
  builtAt: Type.String({ minLength: 1 }),
  recipeSha256: Sha256,
  packages: Type.Optional(Type.Array(
    Type.Object({ name: Type.String(), version: Type.String() }, { additionalProperties: false }),
  )),
  buildSeconds: Type.Optional(Type.Number({ minimum: 0 })),
};

/** A netbooted environment (micro, debian); `kind` is absent in manifests written before disk images. */
export const BootManifestSchema = Type.Object({
  ...Common,
  kind: Type.Optional(Type.Literal('boot')),
  files: Type.Object({
    kernel: ManifestFile,
    initrd: ManifestFile,
    rootfs: Type.Optional(ManifestFile),
  }, { additionalProperties: false }),
  /**
   * How the root starts: `agent` (default; the initrd runs netboot's enlist agent or script runner
   * as PID 1, the micro image) or `cloud-init` (the initrd starts /sbin/init, systemd, and cloud-init
   * takes its NoCloud seed from the kernel command line: the debian image).
   */
  environment: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('cloud-init')])),
}, { additionalProperties: false });

/** An OS root the installer writes to a disk (debian-disk, or `netboot images import`). */
export const DiskManifestSchema = Type.Object({
  ...Common,
  kind: Type.Literal('disk'),
  format: Type.Literal('tar.zst'),
  rootBytes: Type.Integer({ minimum: 0 }),
  /** Set by `netboot images import`: the tarball it came from. `images build` will not replace it unforced. */
  importedFrom: Type.Optional(Type.String({ minLength: 1 })),
  files: Type.Object({
    root: ManifestFile,
    localboot: Type.Optional(ManifestFile),
  }, { additionalProperties: false }),
}, { additionalProperties: false });

export const ManifestSchema = Type.Union([BootManifestSchema, DiskManifestSchema]);

export type Manifest = Static<typeof ManifestSchema>;

export const MANIFEST = 'manifest.json';

function rebuildHint(name: string): string {
  return `rebuild it: netboot images build ${name} --force`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Parses and validates one manifest file; every error names the file. */
export function readManifest(file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ImageError(`cannot read image manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  // Checked against the one schema its kind names: a union's errors would only say "no variant matched".
  const schema = isObject(raw) && raw.kind === 'disk' ? DiskManifestSchema : BootManifestSchema;
  if (!Value.Check(schema, raw)) {
    const problems = [...Value.Errors(schema, raw)].slice(0, 3)
      .map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
    throw new ImageError(`invalid image manifest ${file}: ${problems}`);
  }
  if (Number.isNaN(Date.parse(raw.builtAt))) {
    throw new ImageError(`invalid image manifest ${file}: /builtAt: not an ISO 8601 time: ${raw.builtAt}`);
  }
  return raw;
}

/** One file of the manifest, resolved inside the image folder (STYLE.md §5: never follow a path out). */
function resolveFile(dir: string, name: string, manifestPath: string, role: ImageRole,
  entry: Static<typeof ManifestFile>): ImageFile {
  const path = resolve(dir, entry.path);
  const rel = relative(dir, path);
  if (entry.path.includes('\0') || isAbsolute(entry.path) || rel === '' || rel.startsWith(`..${sep}`) || rel === '..') {
    throw new ImageError(`invalid image manifest ${manifestPath}: /files/${role}/path must name a file inside ${dir}: ${entry.path}`);
  }
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (err) {
    throw new ImageError(`image '${name}': ${role} file ${path} is missing (${(err as Error).message}); ${rebuildHint(name)}`,
      { cause: err });
  }
  if (size !== entry.size) {
    throw new ImageError(`image '${name}': ${role} file ${path} has ${size} bytes, its manifest says ${entry.size}; ${rebuildHint(name)}`);
  }
  return { id: entry.sha256, role, path, size, sha256: entry.sha256, image: name };
}

/**
 * Loads `<imagesDir>/<name>/manifest.json` and checks its files. Returns undefined when the folder has
 * no manifest (never built, or a build in progress); throws ImageError for anything else wrong.
 */
export function loadImage(imagesDir: string, name: string): Image | undefined {
  const dir = resolve(imagesDir, name);
  const manifestPath = join(dir, MANIFEST);
  try {
    statSync(manifestPath);
  } catch {
    return undefined;
  }
  const m = readManifest(manifestPath);
  if (m.name !== name) {
    throw new ImageError(`invalid image manifest ${manifestPath}: /name is '${m.name}' but the folder is '${name}'`);
  }
  const file = (role: ImageRole, entry: Static<typeof ManifestFile>): ImageFile =>
    resolveFile(dir, name, manifestPath, role, entry);
  const common = {
    name, version: m.version, arch: m.arch, builtAt: m.builtAt, recipeSha256: m.recipeSha256, dir,
    ...(m.packages ? { packages: m.packages } : {}),
  };
  if (m.kind === 'disk') {
    const files = {
      root: file('root', m.files.root),
      ...(m.files.localboot ? { localboot: file('localboot', m.files.localboot) } : {}),
    };
    return {
      ...common, kind: 'disk', format: m.format, rootBytes: m.rootBytes, files,
      ...(m.importedFrom ? { importedFrom: m.importedFrom } : {}),
    };
  }
  const files = {
    kernel: file('kernel', m.files.kernel),
    initrd: file('initrd', m.files.initrd),
    ...(m.files.rootfs ? { rootfs: file('rootfs', m.files.rootfs) } : {}),
  };
  return { ...common, kind: 'boot', files, environment: m.environment ?? 'agent' };
}
