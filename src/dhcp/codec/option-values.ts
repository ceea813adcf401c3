// How each kind of option value looks on the wire (RFC 2132 §2 and the RFCs named per kind). One
// codec per kind; option-table.ts says which option has which kind.
import { Buffer } from 'node:buffer';
import { DecodeError, EncodeError } from './errors.js';
import { ipv4Bytes, readIpv4 } from './ipv4.js';

/** RFC 2132 §9.14 option 61: a hardware type (1 = Ethernet) or 0, then the identifier. */
export interface ClientIdentifier {
  readonly type: number;
  readonly id: Uint8Array;
}

/**
 * RFC 4578 §2.3 option 97: type 0, then a 16-octet machine identifier, as the firmware stores it.
 * PXE firmware copies the SMBIOS UUID bytes (first three fields little-endian): see classify.ts.
 */
export interface ClientMachineId {
  readonly type: number;
  readonly guid: Uint8Array;
}

/**
 * Option 77. RFC 3004 §4 defines a list of length-prefixed class names, but iPXE sends the bare
 * string `iPXE` (FACTS.md), so bytes that do not parse as RFC 3004 are kept as one raw string.
 */
export type UserClass =
  | { readonly format: 'rfc3004'; readonly classes: readonly string[] }
  | { readonly format: 'raw'; readonly data: string };

/**
 * Options 43 and 175: code/length/value sub-options (RFC 2132 §8.4). RFC 2132 only says vendor data
 * SHOULD use that encoding, so bytes that are not well-formed sub-options stay opaque.
 */
export type EncapsulatedOptions = ReadonlyMap<number, Uint8Array> | Uint8Array;

/** RFC 3046 §2.0 option 82: sub-options 1 (Agent Circuit ID) and 2 (Agent Remote ID), plus others. */
export interface RelayAgentInformation {
  readonly circuitId?: Uint8Array;
  readonly remoteId?: Uint8Array;
  readonly other?: ReadonlyMap<number, Uint8Array>;
  /**
   * The option's octets as received. When present the encoder writes exactly these: RFC 3046 §2.2
   * has the server echo the option unchanged, sub-option order included.
   */
  readonly raw?: Uint8Array;
}

/** The decoded value type of each kind. */
export interface KindValues {
  ip: string;
  ips: readonly string[];
  u8: number;
  u16: number;
  u32: number;
  string: string;
  bytes: Uint8Array;
  'u8-list': readonly number[];
  'client-id': ClientIdentifier;
  uuid: ClientMachineId;
  'arch-list': readonly number[];
  'user-class': UserClass;
  encapsulated: EncapsulatedOptions;
  'relay-agent': RelayAgentInformation;
}
export type OptionKind = keyof KindValues;

/** Where an option's (possibly concatenated, RFC 3396) data started: for DecodeError. */
export interface OptionSite {
  readonly field: string;
  readonly offset: number;
}

interface KindCodec<K extends OptionKind> {
  decode(data: Buffer, site: OptionSite): KindValues[K];
  encode(value: KindValues[K], field: string): Buffer;
}

function requireLength(data: Buffer, site: OptionSite, ok: boolean, expected: string): void {
  if (!ok) throw new DecodeError(site.field, site.offset, `length ${data.length}, expected ${expected}`);
}

function requireInteger(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(field, `${value} is not an integer in 0..${max}`);
  }
}

/** Option strings are octets (RFC 2132 §2 NVT ASCII); latin1 maps each octet to one char and back. */
export function latin1Bytes(field: string, text: string): Buffer {
  // eslint-disable-next-line no-control-regex -- the check is exactly "one octet per character"
  if (/[^\u0000-\u00ff]/.test(text)) throw new EncodeError(field, 'characters beyond one octet (latin1)');
  return Buffer.from(text, 'latin1');
}

function copy(data: Uint8Array): Buffer {
  return Buffer.from(data);
}

/** Sub-options as code/length/value, RFC 2132 §8.4 (pad 0 and end 255 honoured); undefined if malformed. */
export function decodeSubOptions(data: Buffer): Map<number, Buffer> | undefined {
  const found = new Map<number, Buffer>();
  let at = 0;
  while (at < data.length) {
    const code = data[at]!;
    if (code === 0) { at += 1; continue; }
    if (code === 255) break;
    if (at + 1 >= data.length) return undefined;
    const length = data[at + 1]!;
    if (at + 2 + length > data.length) return undefined;
    const value = data.subarray(at + 2, at + 2 + length);
    // RFC 3396 §7 (decoding agents concatenate instances) applies inside encapsulations too.
    const before = found.get(code);
    found.set(code, before ? Buffer.concat([before, value]) : copy(value));
    at += 2 + length;
  }
  return found;
}

export function encodeSubOptions(field: string, subOptions: ReadonlyMap<number, Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of [...subOptions].sort(([a], [b]) => a - b)) {
    requireInteger(`${field} sub-option code`, code, 254);
    if (code === 0) throw new EncodeError(field, 'sub-option 0 is the pad octet');
    if (value.length > 255) throw new EncodeError(field, `sub-option ${code} is longer than 255 octets`);
    parts.push(Buffer.from([code, value.length]), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

function decodeU16List(data: Buffer, site: OptionSite): number[] {
  requireLength(data, site, data.length >= 2 && data.length % 2 === 0, 'a non-zero multiple of 2');
  const values: number[] = [];
  for (let at = 0; at < data.length; at += 2) values.push(data.readUInt16BE(at));
  return values;
}

function decodeUserClass(data: Buffer): UserClass {
  // RFC 3004 §4: UC_Len_i (at least 1) followed by that many octets, repeated to the end.
  const classes: string[] = [];
  let at = 0;
  while (at < data.length) {
    const length = data[at]!;
    if (length === 0 || at + 1 + length > data.length) return { format: 'raw', data: data.toString('latin1') };
    classes.push(data.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  if (classes.length === 0) return { format: 'raw', data: '' };
  return { format: 'rfc3004', classes };
}

export const kindCodecs: { readonly [K in OptionKind]: KindCodec<K> } = {
  ip: {
    decode: (data, site) => {
      requireLength(data, site, data.length === 4, '4');
      return readIpv4(data, 0);
    },
    encode: (value, field) => ipv4Bytes(field, value),
  },
  ips: {
    decode: (data, site) => {
      requireLength(data, site, data.length >= 4 && data.length % 4 === 0, 'a non-zero multiple of 4');
      const addresses: string[] = [];
      for (let at = 0; at < data.length; at += 4) addresses.push(readIpv4(data, at));
      return addresses;
    },
    encode: (value, field) => {
      if (value.length === 0) throw new EncodeError(field, 'an address list needs at least one address');
      return Buffer.concat(value.map((address) => ipv4Bytes(field, address)));
    },
  },
  u8: {
    decode: (data, site) => {
      requireLength(data, site, data.length === 1, '1');
      return data[0]!;
    },
    encode: (value, field) => {
      requireInteger(field, value, 0xff);
      return Buffer.from([value]);
    },
  },
  u16: {
    decode: (data, site) => {
      requireLength(data, site, data.length === 2, '2');
      return data.readUInt16BE(0);
    },
    encode: (value, field) => {
      requireInteger(field, value, 0xffff);
      const bytes = Buffer.alloc(2);
      bytes.writeUInt16BE(value, 0);
      return bytes;
    },
  },
  u32: {
    decode: (data, site) => {
      requireLength(data, site, data.length === 4, '4');
      return data.readUInt32BE(0);
    },
    encode: (value, field) => {
      requireInteger(field, value, 0xffffffff);
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value, 0);
      return bytes;
    },
  },
  string: {
    // Kept octet for octet: some clients NUL-terminate (RFC 2132 §2 says they should not); callers trim.
    decode: (data) => data.toString('latin1'),
    encode: (value, field) => latin1Bytes(field, value),
  },
  bytes: {
    decode: (data) => copy(data),
    encode: (value) => copy(value),
  },
  'u8-list': {
    decode: (data) => {
      const codes = new Array<number>(data.length); // a loop: spreading a Buffer's iterator costs more
      for (let i = 0; i < data.length; i++) codes[i] = data[i]!;
      return codes;
    },
    encode: (value, field) => {
      value.forEach((code) => requireInteger(field, code, 0xff));
      return Buffer.from(value);
    },
  },
  'client-id': {
    decode: (data, site) => {
      requireLength(data, site, data.length >= 2, 'at least 2 (RFC 2132 §9.14)');
      return { type: data[0]!, id: copy(data.subarray(1)) };
    },
    encode: (value, field) => {
      requireInteger(field, value.type, 0xff);
      return Buffer.concat([Buffer.from([value.type]), copy(value.id)]);
    },
  },
  uuid: {
    decode: (data, site) => {
      requireLength(data, site, data.length === 17, '17 (RFC 4578 §2.3: type + 16 octets)');
      return { type: data[0]!, guid: copy(data.subarray(1)) };
    },
    encode: (value, field) => {
      requireInteger(field, value.type, 0xff);
      if (value.guid.length !== 16) throw new EncodeError(field, 'the machine identifier is 16 octets');
      return Buffer.concat([Buffer.from([value.type]), copy(value.guid)]);
    },
  },
  'arch-list': {
    decode: decodeU16List,
    encode: (value, field) => {
      const bytes = Buffer.alloc(value.length * 2);
      value.forEach((arch, i) => {
        requireInteger(field, arch, 0xffff);
        bytes.writeUInt16BE(arch, i * 2);
      });
      return bytes;
    },
  },
  'user-class': {
    decode: (data) => decodeUserClass(data),
    encode: (value, field) => {
      if (value.format === 'raw') return latin1Bytes(field, value.data);
      return Buffer.concat(value.classes.map((name) => {
        const bytes = latin1Bytes(field, name);
        if (bytes.length === 0 || bytes.length > 255) throw new EncodeError(field, 'a class is 1..255 octets');
        return Buffer.concat([Buffer.from([bytes.length]), bytes]);
      }));
    },
  },
  encapsulated: {
    decode: (data) => decodeSubOptions(data) ?? copy(data),
    encode: (value, field) => (value instanceof Uint8Array ? copy(value) : encodeSubOptions(field, value)),
  },
  'relay-agent': {
    decode: (data, site) => {
      // RFC 3046 §2.0 is strict about the sub-option format, unlike vendor options.
      const subOptions = decodeSubOptions(data);
      if (!subOptions) throw new DecodeError(site.field, site.offset, 'malformed relay agent sub-options');
      const circuitId = subOptions.get(1);
      const remoteId = subOptions.get(2);
      subOptions.delete(1);
      subOptions.delete(2);
      return {
        ...(circuitId ? { circuitId } : {}),
        ...(remoteId ? { remoteId } : {}),
        ...(subOptions.size > 0 ? { other: subOptions } : {}),
        raw: copy(data),
      };
    },
    encode: (value, field) => {
      if (value.raw) return copy(value.raw);
      const subOptions = new Map<number, Uint8Array>(value.other ?? []);
      if (value.circuitId) subOptions.set(1, value.circuitId);
      if (value.remoteId) subOptions.set(2, value.remoteId);
      return encodeSubOptions(field, subOptions);
    },
  },
};
