// Bytes -> DhcpPacket. Every bounds check is explicit so that malformed input ends in a DecodeError
// naming the field and offset, never a RangeError from Buffer (STYLE.md §2, §11).
import { Buffer } from 'node:buffer';
import { DecodeError } from './errors.js';
import { readIpv4 } from './ipv4.js';
import {
  OPTION_END, OPTION_OVERLOAD, OPTION_PAD, optionByCode, type DhcpOptions,
} from './option-table.js';
import { kindCodecs, type KindValues, type OptionKind } from './option-values.js';
import { BootOp, Layout, MAGIC_COOKIE, type DhcpPacket } from './packet.js';

/** RFC 2132 §9.3 option 52 values: which of file (1), sname (2) or both (3) carry options. */
const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;

interface CollectedOption {
  readonly chunks: Buffer[];
  /** Offset of the first instance, for errors. */
  readonly offset: number;
}

export function decodeDhcp(input: Uint8Array): DhcpPacket {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < Layout.magicCookie) {
    throw new DecodeError('header', bytes.length, `message is ${bytes.length} octets, BOOTP needs 236`);
  }
  const op = bytes[Layout.op]!;
  if (op !== BootOp.request && op !== BootOp.reply) {
    throw new DecodeError('op', Layout.op, `${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);
  }
  const hlen = bytes[Layout.hlen]!;
  if (hlen > Layout.chaddrLength) {
    throw new DecodeError('hlen', Layout.hlen, `hardware address length ${hlen} exceeds the 16-octet chaddr`);
  }
  // RFC 2131 §3: DHCP messages carry the magic cookie. Plain RFC 951 BOOTP (no cookie) is not served.
  if (bytes.length < Layout.options) {
    throw new DecodeError('magicCookie', Layout.magicCookie, 'message ends before the magic cookie');
  }
  const cookie = bytes.readUInt32BE(Layout.magicCookie);
  if (cookie !== MAGIC_COOKIE) {
    throw new DecodeError('magicCookie', Layout.magicCookie, `0x${cookie.toString(16)} is not 0x63825363`);
  }

  // RFC 3396 §5: the aggregate option buffer is the options field, then file, then sname; §7: an
  // option that appears several times is the concatenation of its instances in that order.
  const collected = new Map<number, CollectedOption>();
  scanOptions(bytes, Layout.options, bytes.length, 'options', collected);
  const overload = takeOverload(collected);
  if (overload & OVERLOAD_FILE) {
    scanOptions(bytes, Layout.file, Layout.file + Layout.fileLength, 'file', collected);
  }
  if (overload & OVERLOAD_SNAME) {
    scanOptions(bytes, Layout.sname, Layout.sname + Layout.snameLength, 'sname', collected);
  }
  // Option 52 only counts in the options field (RFC 2131 §4.1); a copy inside file/sname is dropped.
  collected.delete(OPTION_OVERLOAD);

  return {
    op,
    htype: bytes[Layout.htype]!,
    hops: bytes[Layout.hops]!,
    xid: bytes.readUInt32BE(Layout.xid),
    secs: bytes.readUInt16BE(Layout.secs),
    flags: bytes.readUInt16BE(Layout.flags),
    ciaddr: readIpv4(bytes, Layout.ciaddr),
    yiaddr: readIpv4(bytes, Layout.yiaddr),
    siaddr: readIpv4(bytes, Layout.siaddr),
    giaddr: readIpv4(bytes, Layout.giaddr),
    chaddr: Buffer.from(bytes.subarray(Layout.chaddr, Layout.chaddr + hlen)),
    sname: overload & OVERLOAD_SNAME ? '' : cString(bytes, Layout.sname, Layout.snameLength),
    file: overload & OVERLOAD_FILE ? '' : cString(bytes, Layout.file, Layout.fileLength),
    options: decodeOptionValues(collected),
  };
}

/** Walks code/length/value options in [start, end) (RFC 2132 §2), collecting each code's instances. */
function scanOptions(
  bytes: Buffer, start: number, end: number, area: string, collected: Map<number, CollectedOption>,
): void {
  let at = start;
  while (at < end) {
    const code = bytes[at]!;
    if (code === OPTION_PAD) { at += 1; continue; }
    if (code === OPTION_END) return;
    if (at + 1 >= end) throw new DecodeError(`option ${code}`, at, `no length octet before the end of ${area}`);
    const length = bytes[at + 1]!;
    if (at + 2 + length > end) {
      throw new DecodeError(`option ${code}`, at, `length ${length} runs past the end of ${area}`);
    }
    const data = bytes.subarray(at + 2, at + 2 + length);
    const before = collected.get(code);
    if (before) before.chunks.push(data);
    else collected.set(code, { chunks: [data], offset: at });
    at += 2 + length;
  }
  // Reaching the end of the area without option 255 is tolerated: RFC 2131 requires the end option,
  // but every byte read so far was a complete option, and being strict here buys nothing.
}

function takeOverload(collected: Map<number, CollectedOption>): number {
  const found = collected.get(OPTION_OVERLOAD);
  if (!found) return 0;
  const data = Buffer.concat(found.chunks);
  if (data.length !== 1 || data[0]! < 1 || data[0]! > 3) {
    throw new DecodeError(`option ${OPTION_OVERLOAD}`, found.offset, 'option overload must be one octet, 1..3');
  }
  return data[0]!;
}

/** `option <code>` for every code, built once: the error field of each option decoded. */
const optionFields: readonly string[] = Array.from({ length: 256 }, (_, code) => `option ${code}`);

function decodeOptionValues(collected: Map<number, CollectedOption>): DhcpOptions {
  const named: Record<string, unknown> = {};
  const unknown = new Map<number, Uint8Array>();
  for (const code of [...collected.keys()].sort((a, b) => a - b)) {
    const { chunks, offset } = collected.get(code)!;
    // A view of the packet when the option came in one piece: kind decoders copy what they keep
    // (option-values.ts), so no value aliases the caller's buffer.
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const entry = optionByCode.get(code);
    if (!entry) {
      unknown.set(code, Buffer.from(data));
      continue;
    }
    named[entry.name] = decodeKind(entry.kind, data, { field: optionFields[code]!, offset });
  }
  if (unknown.size > 0) named.unknown = unknown;
  return named as DhcpOptions;
}

function decodeKind<K extends OptionKind>(
  kind: K, data: Buffer, site: { field: string; offset: number },
): KindValues[K] {
  return kindCodecs[kind].decode(data, site);
}

/** A NUL-terminated field (RFC 2131 §2: sname and file are "null terminated string"). */
function cString(bytes: Buffer, start: number, length: number): string {
  const nul = bytes.indexOf(0, start);
  const end = nul === -1 || nul > start + length ? start + length : nul;
  return bytes.toString('latin1', start, end);
}
