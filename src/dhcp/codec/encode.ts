// DhcpPacket -> bytes. Writes option 53 first (clients look for it first; RFC 2131 does not require
// it but every server does it), option 82 last (RFC 3046 §2.1), the rest by code, then option 255,
// then zero padding (pad options, RFC 2132 §3.1) up to the 300-octet BOOTP minimum (RFC 1542 §2.1).
// Never uses option overload: our replies fit in the options field.
import { Buffer } from 'node:buffer';
import { EncodeError } from './errors.js';
import { ipv4Bytes } from './ipv4.js';
import {
  OPTION_END, OPTION_OVERLOAD, OPTION_PAD, optionByCode, optionByName, type DhcpOptions,
} from './option-table.js';
import { kindCodecs, latin1Bytes, type KindValues, type OptionKind } from './option-values.js';
import { BootOp, Layout, MAGIC_COOKIE, MIN_BOOTP_MESSAGE_LENGTH, type DhcpPacket } from './packet.js';

const MESSAGE_TYPE_CODE = 53;
const RELAY_AGENT_CODE = 82;
const MAX_OPTION_LENGTH = 255;

export function encodeDhcp(packet: DhcpPacket): Buffer {
  const options = encodeOptions(packet.options);
  const length = Math.max(MIN_BOOTP_MESSAGE_LENGTH, Layout.options + options.length + 1);
  const bytes = Buffer.alloc(length);

  if (packet.op !== BootOp.request && packet.op !== BootOp.reply) {
    throw new EncodeError('op', `${String(packet.op)} is neither 1 nor 2`);
  }
  bytes[Layout.op] = packet.op;
  bytes[Layout.htype] = checkedInteger('htype', packet.htype, 0xff);
  if (packet.chaddr.length > Layout.chaddrLength) {
    throw new EncodeError('chaddr', `${packet.chaddr.length} octets do not fit the 16-octet field`);
  }
  bytes[Layout.hlen] = packet.chaddr.length;
  bytes[Layout.hops] = checkedInteger('hops', packet.hops, 0xff);
  bytes.writeUInt32BE(checkedInteger('xid', packet.xid, 0xffffffff), Layout.xid);
  bytes.writeUInt16BE(checkedInteger('secs', packet.secs, 0xffff), Layout.secs);
  bytes.writeUInt16BE(checkedInteger('flags', packet.flags, 0xffff), Layout.flags);
  ipv4Bytes('ciaddr', packet.ciaddr).copy(bytes, Layout.ciaddr);
  ipv4Bytes('yiaddr', packet.yiaddr).copy(bytes, Layout.yiaddr);
  ipv4Bytes('siaddr', packet.siaddr).copy(bytes, Layout.siaddr);
  ipv4Bytes('giaddr', packet.giaddr).copy(bytes, Layout.giaddr);
  Buffer.from(packet.chaddr).copy(bytes, Layout.chaddr);
  cStringBytes('sname', packet.sname, Layout.snameLength).copy(bytes, Layout.sname);
  // RFC 2131 §2: file is a 128-octet "null terminated string": 127 characters at most. Longer boot
  // file names go in option 67 only (FACTS.md); respond.ts decides that, the codec refuses.
  cStringBytes('file', packet.file, Layout.fileLength).copy(bytes, Layout.file);
  bytes.writeUInt32BE(MAGIC_COOKIE, Layout.magicCookie);
  options.copy(bytes, Layout.options);
  bytes[Layout.options + options.length] = OPTION_END;
  return bytes;
}

function checkedInteger(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(field, `${value} is not an integer in 0..${max}`);
  }
  return value;
}

function cStringBytes(field: string, text: string, fieldLength: number): Buffer {
  const bytes = latin1Bytes(field, text);
  if (bytes.length > fieldLength - 1) {
    throw new EncodeError(field, `${bytes.length} characters exceed ${fieldLength - 1} (+ NUL)`);
  }
  if (bytes.includes(0)) throw new EncodeError(field, 'contains NUL');
  return bytes;
}

/** All options as code/length/value runs, in wire order, without the end option. */
function encodeOptions(options: DhcpOptions): Buffer {
  const encoded: { code: number; data: Buffer }[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (name === 'unknown') {
      for (const [code, data] of value as ReadonlyMap<number, Uint8Array>) {
        checkedInteger('unknown option code', code, 254);
        if (code === OPTION_PAD || code === OPTION_OVERLOAD || optionByCode.has(code)) {
          throw new EncodeError(`option ${code}`, 'framing and table options cannot be sent as unknown');
        }
        encoded.push({ code, data: Buffer.from(data) });
      }
      continue;
    }
    const entry = optionByName.get(name);
    if (!entry) throw new EncodeError(name, 'not an option name from option-table.ts');
    encoded.push({ code: entry.code, data: encodeKind(entry.kind, value, `option ${entry.code}`) });
  }
  encoded.sort((a, b) => wireRank(a.code) - wireRank(b.code));
  return Buffer.concat(encoded.flatMap(({ code, data }) => splitLongOption(code, data)));
}

function encodeKind<K extends OptionKind>(kind: K, value: unknown, field: string): Buffer {
  return kindCodecs[kind].encode(value as KindValues[K], field);
}

function wireRank(code: number): number {
  if (code === MESSAGE_TYPE_CODE) return -1;
  if (code === RELAY_AGENT_CODE) return 256;
  return code;
}

/** RFC 3396 §6: data longer than 255 octets goes out as consecutive instances of the same code. */
function splitLongOption(code: number, data: Buffer): Buffer[] {
  if (data.length <= MAX_OPTION_LENGTH) return [Buffer.from([code, data.length]), data];
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_OPTION_LENGTH) {
    const chunk = data.subarray(at, at + MAX_OPTION_LENGTH);
    parts.push(Buffer.from([code, chunk.length]), chunk);
  }
  return parts;
}
