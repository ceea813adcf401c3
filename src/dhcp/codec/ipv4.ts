// Dotted-quad IPv4 addresses <-> 4 wire octets <-> unsigned 32-bit integers. Shared by the codec and
// by the lease policy (address arithmetic over the pool).
import { Buffer } from 'node:buffer';
import { EncodeError } from './errors.js';

export const ZERO_ADDRESS = '0.0.0.0';
export const LIMITED_BROADCAST = '255.255.255.255';

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad to an unsigned 32-bit integer; undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  const match = DOTTED_QUAD.exec(text);
  if (!match) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** Four octets at `offset` as a dotted quad. The caller has checked the bounds. */
export function readIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** The four wire octets of a dotted quad; throws EncodeError naming `field` when it is not one. */
export function ipv4Bytes(field: string, text: string): Buffer {
  const value = parseIpv4(text);
  if (value === undefined) throw new EncodeError(field, `"${text}" is not a dotted-quad IPv4 address`);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}
