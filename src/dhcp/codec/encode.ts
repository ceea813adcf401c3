// DhcpPacket -> bytes. Writes option 53 first (clients look for it first; RFC 2131 does not require
// it but every server does it), option 82 last (RFC 3046 §2.1), the rest by code, then option 255,
// then zero padding (pad options, RFC 2132 §3.1) up to the 300-octet BOOTP minimum (RFC 1542 §2.1).
// Never uses option overload: our replies fit in the options field.
import { Buffer } from 'node:buffer';
import { EncodeError } from './errors.js';
import { writeIpv4 } from './ipv4.js';
import {
  OPTION_END, OPTION_OVERLOAD, OPTION_PAD, optionByCode, optionByName, type DhcpOptions,
} from './option-table.js';
import { kindCodecs, type KindValues, type OptionKind } from './option-values.js';
import { BootOp, Layout, MAGIC_COOKIE, MIN_BOOTP_MESSAGE_LENGTH, type DhcpPacket } from './packet.js';

const MESSAGE_TYPE_CODE = 53;
const RELAY_AGENT_CODE = 82;
const MAX_OPTION_LENGTH = 255;

// Everything is written into one buffer sized up front: building a Buffer per field and option and
// concatenating them was most of the cost of a reply.
export function encodeDhcp(packet: DhcpPacket): Buffer {
  if (packet.op !== BootOp.request && packet.op !== BootOp.reply) {
    throw new EncodeError('op', `${String(packet.op)} is neither 1 nor 2`);
  }
  if (packet.chaddr.length > Layout.chaddrLength) {
    throw new EncodeError('chaddr', `${packet.chaddr.length} octets do not fit the 16-octet field`);
  }
  const options = encodeOptions(packet.options);
  let optionsLength = 0;
  for (const { data } of options) optionsLength += optionWireLength(data);
  const length = Math.max(MIN_BOOTP_MESSAGE_LENGTH, Layout.options + optionsLength + 1);
  const bytes = Buffer.alloc(length);

  bytes[Layout.op] = packet.op;
  bytes[Layout.htype] = checkedInteger('htype', packet.htype, 0xff);
  bytes[Layout.hlen] = packet.chaddr.length;
  bytes[Layout.hops] = checkedInteger('hops', packet.hops, 0xff);
  bytes.writeUInt32BE(checkedInteger('xid', packet.xid, 0xffffffff), Layout.xid);
  bytes.writeUInt16BE(checkedInteger('secs', packet.secs, 0xffff), Layout.secs);
  bytes.writeUInt16BE(checkedInteger('flags', packet.flags, 0xffff), Layout.flags);
  writeIpv4(bytes, Layout.ciaddr, 'ciaddr', packet.ciaddr);
  writeIpv4(bytes, Layout.yiaddr, 'yiaddr', packet.yiaddr);
  writeIpv4(bytes, Layout.siaddr, 'siaddr', packet.siaddr);
  writeIpv4(bytes, Layout.giaddr, 'giaddr', packet.giaddr);
  bytes.set(packet.chaddr, Layout.chaddr);
  writeCString(bytes, Layout.sname, Layout.snameLength, 'sname', packet.sname);
  // RFC 2131 §2: file is a 128-octet "null terminated string": 127 characters at most. Longer boot
  // file names go in option 67 only (FACTS.md); respond.ts decides that, the codec refuses.
  writeCString(bytes, Layout.file, Layout.fileLength, 'file', packet.file);
  bytes.writeUInt32BE(MAGIC_COOKIE, Layout.magicCookie);
  let at: number = Layout.options;
  for (const { code, data } of options) at = writeOption(bytes, at, code, data);
  bytes[at] = OPTION_END;
  return bytes;
}

function checkedInteger(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(field, `${value} is not an integer in 0..${max}`);
  }
  return value;
}

/** One octet per character (latin1), NUL-terminated within the field (the buffer is zero-filled). */
function writeCString(bytes: Buffer, offset: number, fieldLength: number, field: string, text: string): void {
  if (text.length > fieldLength - 1) {
    throw new EncodeError(field, `${text.length} characters exceed ${fieldLength - 1} (+ NUL)`);
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new EncodeError(field, 'characters beyond one octet (latin1)');
    if (c === 0) throw new EncodeError(field, 'contains NUL');
    bytes[offset + i] = c;
  }
}

/** Each option's code and value octets, in wire order (53 first, 82 last, the rest by code). */
function encodeOptions(options: DhcpOptions): Array<{ code: number; data: Uint8Array }> {
  const encoded: Array<{ code: number; data: Uint8Array }> = [];
  for (const name in options) {
    const value = options[name as keyof DhcpOptions];
    if (value === undefined) continue;
    if (name === 'unknown') {
      for (const [code, data] of value as ReadonlyMap<number, Uint8Array>) {
        checkedInteger('unknown option code', code, 254);
        if (code === OPTION_PAD || code === OPTION_OVERLOAD || optionByCode.has(code)) {
          throw new EncodeError(`option ${code}`, 'framing and table options cannot be sent as unknown');
        }
        encoded.push({ code, data });
      }
      continue;
    }
    const entry = optionByName.get(name);
    if (!entry) throw new EncodeError(name, 'not an option name from option-table.ts');
    encoded.push({ code: entry.code, data: encodeKind(entry.kind, value, `option ${entry.code}`) });
  }
  return encoded.sort((a, b) => wireRank(a.code) - wireRank(b.code));
}

/** Octets writeOption uses: a code and a length octet per instance of at most 255 value octets. */
function optionWireLength(data: Uint8Array): number {
  return data.length + 2 * Math.max(1, Math.ceil(data.length / MAX_OPTION_LENGTH));
}

/**
 * Writes one option at `at` and returns where the next starts. RFC 3396 §6: data longer than 255
 * octets goes out as consecutive instances of the same code.
 */
function writeOption(bytes: Buffer, at: number, code: number, data: Uint8Array): number {
  let from = 0;
  do {
    const chunk = Math.min(MAX_OPTION_LENGTH, data.length - from);
    bytes[at] = code;
    bytes[at + 1] = chunk;
    bytes.set(data.subarray(from, from + chunk), at + 2);
    at += 2 + chunk;
    from += chunk;
  } while (from < data.length);
  return at;
}

function encodeKind<K extends OptionKind>(kind: K, value: unknown, field: string): Buffer {
  return kindCodecs[kind].encode(value as KindValues[K], field);
}

function wireRank(code: number): number {
  if (code === MESSAGE_TYPE_CODE) return -1;
  if (code === RELAY_AGENT_CODE) return 256;
  return code;
}
