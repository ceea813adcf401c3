// A TftpSource over a regular file on disk, opened once per transfer and read by position.
import { Buffer } from 'node:buffer';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { TftpSource } from './files.js';

/** Names that are simply not there (TFTP error 1), as opposed to failures worth an error log. */
const missingCodes = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

export function isMissing(err: unknown): boolean {
  return missingCodes.has((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * The file at `path` as a source, or null when it is missing or not a regular file. Configured loader
 * paths follow symlinks (Debian's shim and grub paths can be links); paths built from client names
 * must not (the caller resolved them already). O_NONBLOCK: opening a FIFO someone left behind must
 * not hang (regular files ignore the flag).
 */
export async function openFileSource(path: string, { followSymlinks }: { followSymlinks: boolean }): Promise<TftpSource | null> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (followSymlinks ? 0 : constants.O_NOFOLLOW);
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const stat = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (!stat.isFile()) {
    await handle.close();
    return null; // directories, devices, sockets: not files to serve
  }
  return fileSource(handle, stat.size);
}

function fileSource(handle: FileHandle, size: number): TftpSource {
  return {
    size,
    async read(position, length) {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
        if (bytesRead === 0) break; // end of file: the session notices the short read
        filled += bytesRead;
      }
      return filled === length ? buffer : buffer.subarray(0, filled);
    },
    close: () => handle.close(),
  };
}
