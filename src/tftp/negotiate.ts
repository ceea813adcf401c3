// Request policy, pure (STYLE.md §3): which requests are served, and which RFC 2347 options are
// accepted with which values. Values in, values out; the server sends what comes back.
import { Buffer } from 'node:buffer';
import { ErrorCode, Opcode, type RequestPacket, type TftpOption } from './codec/index.js';

/** Limits an operator can set (config `tftp.*`); see defaultLimits for what each one protects. */
export interface TftpLimits {
  /** Path MTU of the boot network: blksize is capped to mtu - 32 so DATA never fragments. */
  readonly mtu: number;
  /** RFC 7440 windowsize cap. */
  readonly maxWindow: number;
  /** Retransmission interval unless the client negotiates RFC 2349 `timeout`. */
  readonly timeoutMs: number;
  /** Retransmissions of one packet (or window) before the transfer is given up. */
  readonly retries: number;
  /** Transfers at once, over all clients. */
  readonly maxTransfers: number;
  /** Transfers at once from one client address, so one looping client cannot take every slot. */
  readonly maxPerClient: number;
}

export const defaultLimits: TftpLimits = {
  mtu: 1500, maxWindow: 64, timeoutMs: 1000, retries: 5, maxTransfers: 64, maxPerClient: 8,
};

/** IPv4 header (20) + UDP header (8) + TFTP DATA header (4): what a block must leave room for. */
export const HEADERS_OVERHEAD = 32;
/** RFC 1350 §2: the block size without the RFC 2348 option. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348: the valid blksize range. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** RFC 7440 §3: windowsize is 1..65535. */
const MAX_WINDOWSIZE = 65535;
/** RFC 2349: timeout is 1..255 seconds. */
const MAX_TIMEOUT_S = 255;
/**
 * RFC 2347 limits a whole request to 512 octets, so a longer name is not a real client; the cap
 * also keeps log lines and path lookups bounded.
 */
export const MAX_FILENAME_OCTETS = 512;

export type RequestCheck =
  | { readonly kind: 'accept' }
  /** `message` goes to the client in an ERROR packet; `reason` to the log. */
  | { readonly kind: 'refuse'; readonly code: ErrorCode; readonly message: string; readonly reason: string };

export function checkRequest(request: RequestPacket): RequestCheck {
  if (request.opcode === Opcode.wrq) {
    return refuse(ErrorCode.accessViolation, 'this server is read-only', 'WRQ refused: the server is read-only');
  }
  const mode = request.mode.toLowerCase();
  if (mode !== 'octet') {
    // netascii (RFC 1350 §1, RFC 764 line endings) changes the length of the data, so tsize cannot
    // be answered without reading the whole file, and no boot firmware uses it. Refused, saying what
    // to do: tftp-hpa's `tftp` defaults to netascii and needs `-m binary` (mode octet).
    return refuse(ErrorCode.illegalOperation, `mode ${mode} is not supported: use octet (binary) mode`, `mode ${mode} refused`);
  }
  if (request.filename === '') return refuse(ErrorCode.fileNotFound, 'no file name given', 'empty file name');
  if (request.filename.includes('\0')) {
    return refuse(ErrorCode.accessViolation, 'file name contains NUL', 'file name with NUL refused');
  }
  if (Buffer.byteLength(request.filename) > MAX_FILENAME_OCTETS) {
    return refuse(ErrorCode.accessViolation, `file name longer than ${MAX_FILENAME_OCTETS} octets`, 'file name too long');
  }
  return { kind: 'accept' };
}

const refuse = (code: ErrorCode, message: string, reason: string): RequestCheck => ({ kind: 'refuse', code, message, reason });

export interface TransferParameters {
  readonly blksize: number;
  readonly windowsize: number;
  readonly timeoutMs: number;
  /** The OACK to send first, or null when no option was accepted (RFC 2347: plain DATA 1 then). */
  readonly oack: readonly TftpOption[] | null;
}

/** The largest blksize that fits one unfragmented IP packet on a link with this MTU. */
export function maxBlksizeFor(mtu: number): number {
  return Math.max(MIN_BLKSIZE, Math.min(MAX_BLKSIZE, mtu - HEADERS_OVERHEAD));
}

/**
 * RFC 2347 negotiation for a read request of a file of `size` octets. Only options the client asked
 * for are echoed, with the client's spelling, in the client's order; unknown or malformed options are
 * ignored (RFC 2347 allows ignoring them; refusing with ERROR 8 would fail a boot for nothing).
 */
export function negotiate(options: readonly TftpOption[], size: number, limits: TftpLimits): TransferParameters {
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = 1;
  let timeoutMs = limits.timeoutMs;
  const seen = new Set<string>();
  const oack: TftpOption[] = [];
  for (const { name, value } of options) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue; // the first instance counts; a repeated option is not echoed twice
    seen.add(key);
    const n = /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
    switch (key) {
      case 'blksize':
        // RFC 2348: the server may answer a smaller value, never a larger one. The MTU cap is
        // the reason to answer smaller: OVMF asks 1468, which fits 1500 exactly (FACTS.md).
        if (!(n >= MIN_BLKSIZE)) break;
        blksize = Math.min(n, maxBlksizeFor(limits.mtu));
        oack.push({ name, value: String(blksize) });
        break;
      case 'tsize':
        // RFC 2349: a read request carries tsize 0 and the OACK the real size. Some clients send
        // another number; the answer is the real size all the same.
        if (!(n >= 0)) break;
        oack.push({ name, value: String(size) });
        break;
      case 'timeout':
        // RFC 2349: the server must echo the value unchanged, or ignore the option.
        if (!(n >= 1 && n <= MAX_TIMEOUT_S)) break;
        timeoutMs = n * 1000;
        oack.push({ name, value });
        break;
      case 'windowsize':
        // RFC 7440 §3: the server may answer a smaller value. OVMF asks 4 (FACTS.md).
        if (!(n >= 1 && n <= MAX_WINDOWSIZE)) break;
        windowsize = Math.min(n, limits.maxWindow);
        oack.push({ name, value: String(windowsize) });
        break;
      default:
        break; // unknown (multicast, RFC 2090; vendor options): ignored, not echoed
    }
  }
  return { blksize, windowsize, timeoutMs, oack: oack.length > 0 ? oack : null };
}
