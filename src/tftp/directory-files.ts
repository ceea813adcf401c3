// TftpFiles over a directory (the loaders: undionly.kpxe, snponly.efi, shim, grub). Client names
// become paths in one function, sanitize() (STYLE.md §5, after matchbox storage/fs.go), and a name
// whose real path (symlinks resolved) leaves the root is treated as missing.
import { realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { TftpFiles } from './files.js';
import { isMissing, openFileSource } from './file-source.js';

/**
 * The path under `root` that a client's file name stands for, or null when the name is refused.
 * - NUL anywhere: refused (no file name on disk has one; a C library would cut the name there).
 * - `\` is a separator: Windows PXE clients (WDS's wdsnbp.com, some UEFI stacks) send `boot\x86\...`.
 * - Absolute names are relative to the root: `/grub/grub.cfg` is `<root>/grub/grub.cfg`, as
 *   tftpd-hpa does with `-s`; grub and shim ask with a leading `/` (FACTS.md), some clients with `//`.
 * - `.` and empty segments are dropped; `..` removes the segment before it and is refused where it
 *   would climb above the root.
 */
export function sanitize(root: string, name: string): string | null {
  if (name.includes('\0')) return null;
  const segments: string[] = [];
  for (const segment of name.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return null;
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  if (segments.length === 0) return null; // the root itself is not a file
  return join(resolve(root), ...segments);
}

export function directoryFiles(root: string): TftpFiles {
  const base = resolve(root);
  return {
    async open(name) {
      const path = sanitize(base, name);
      if (path === null) return null;
      let real: string;
      try {
        real = await realpath(path);
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
      // Resolved every time: the root may be a symlink that an image update re-points.
      const realRoot = await realpath(base);
      if (!real.startsWith(realRoot + sep)) return null; // a symlink that leads out of the root
      // O_NOFOLLOW: the last component must not have become a symlink since realpath.
      return openFileSource(real, { followSymlinks: false });
    },
  };
}
