// Deterministic pseudo-random file content (AES-128-CTR over zeros: fast and repeatable), so a
// failing download can be reproduced octet for octet, and its sha256.
import { createCipheriv, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export function pseudoRandom(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `size` pseudo-random octets to `path`; returns their sha256. */
export function writePseudoRandom(path: string, size: number, seed = path): string {
  const bytes = pseudoRandom(size, seed);
  writeFileSync(path, bytes);
  return sha256(bytes);
}
