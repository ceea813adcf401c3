// Octets as text, for renderings and logs.
import { Buffer } from 'node:buffer';

/** `01 02 ff`; empty string for no octets. */
export function formatHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** `52:54:00:12:34:56`. */
export function formatHexColons(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1:');
}
