// Dotted-quad IPv4 addresses <-> 4 wire octets <-> unsigned 32-bit integers. Shared by the codec and
// by the lease policy (address arithmetic over the pool).
import { Buffer } from 'node:buffer';
import { EncodeError } from './errors.js';

export const ZERO_ADDRESS = '0.0.0.0';
export const LIMITED_BROADCAST = '255.255.255.255';

const DIGIT_0 = 0x30;
const DOT = 0x2e;

/**
 * Parses a dotted quad (four decimal octets of 1-3 digits, 0-255) to an unsigned 32-bit integer;
 * undefined when it is not one. Scans character codes: the policy parses addresses several times per
 * packet, and a regular expression with four captures cost more than the rest of the lookup.
 */
export function parseIpv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - DIGIT_0;
    if (c >= 0 && c <= 9) {
      if (++digits > 3) return undefined;
      octet = octet * 10 + c;
      continue;
    }
    if (c !== DOT - DIGIT_0 || digits === 0 || octet > 255 || ++dots > 3) return undefined;
    value = value * 256 + octet;
    octet = 0;
    digits = 0;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return undefined;
  return value * 256 + octet;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Four octets at `offset` as a dotted quad. The caller has checked the bounds. */
export function readIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** The four wire octets of a dotted quad; throws EncodeError naming `field` when it is not one. */
export function ipv4Bytes(field: string, text: string): Buffer {
  const bytes = Buffer.alloc(4);
  writeIpv4(bytes, 0, field, text);
  return bytes;
}

/** Writes a dotted quad's four octets at `offset` (the caller has checked the bounds). */
export function writeIpv4(bytes: Uint8Array, offset: number, field: string, text: string): void {
  const value = parseIpv4(text);
  if (value === undefined) throw new EncodeError(field, `"${text}" is not a dotted-quad IPv4 address`);
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}
