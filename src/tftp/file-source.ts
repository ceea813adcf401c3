// A TftpSource over a regular file on disk, opened once per transfer and read by position.
import { Buffer } from 'node:buffer';
import { constants, read as readFd, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileIdentity, TftpSource } from './files.js';

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
  const stat = await handle.stat({ bigint: true }).catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (!stat.isFile()) {
    await handle.close();
    return null; // directories, devices, sockets: not files to serve
  }
  const size = Number(stat.size);
  const file: FileIdentity = { key: `${stat.dev}:${stat.ino}`, version: fileVersion(stat) };
  return {
    size,
    read: (position, length) => readFully((b, at, n, pos) => handle.read(b, at, n, pos), position, length),
    close: () => handle.close(),
    handover: { kind: 'fd', fd: handle.fd, size, file },
  };
}

/** Which contents a file has: any write (mtime), replacement or metadata change (ctime) changes it. */
export function fileVersion(stat: BigIntStats): string {
  return `${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

/** A source over a file descriptor another thread opened and will close (transfer-worker.ts). */
export function fdSource(fd: number, size: number): TftpSource {
  // close() waits for reads still in the thread pool: once it resolves, the owner may close the fd
  // (a read racing the close could otherwise land on a file opened later under the same number).
  const inFlight = new Set<Promise<unknown>>();
  const readAt = fdReader(fd);
  return {
    size,
    read(position, length) {
      const reading = readFully(readAt, position, length);
      const settled = reading.catch(() => undefined).finally(() => inFlight.delete(settled));
      inFlight.add(settled);
      return reading;
    },
    close: async () => {
      await Promise.all(inFlight);
    },
  };
}

export function fdReader(fd: number): ReadAt {
  return (buffer, at, length, position) => new Promise((resolve, reject) => {
    readFd(fd, buffer, at, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })));
  });
}

export type ReadAt = (buffer: Buffer, at: number, length: number, position: number) => Promise<{ bytesRead: number }>;

/** Up to `length` octets at `position` in one buffer; fewer only at the end of the file. */
export async function readFully(readAt: ReadAt, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await readAt(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break; // end of file: the session notices the short read
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
