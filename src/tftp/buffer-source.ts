// A TftpSource over bytes in memory, for generated content (grub.cfg, per-machine files).
import type { Buffer } from 'node:buffer';
import type { TftpSource } from './files.js';

export function bufferSource(bytes: Buffer): TftpSource {
  return {
    size: bytes.length,
    read: (position, length) => Promise.resolve(bytes.subarray(position, position + length)),
    close: () => Promise.resolve(),
    handover: { kind: 'bytes', bytes },
  };
}
