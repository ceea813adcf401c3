// Request policy and RFC 2347 option negotiation, table-driven (STYLE.md §12).
import { describe, expect, test } from 'vitest';
import { ErrorCode, Opcode, type RequestPacket, type TftpOption } from '../../src/tftp/codec/index.js';
import { checkRequest, defaultLimits, maxBlksizeFor, negotiate, type TftpLimits } from '../../src/tftp/negotiate.js';

const o = (spec: string): TftpOption[] => spec.split(' ').filter(Boolean).map((kv) => {
  const [name, value] = kv.split('=');
  return { name: name!, value: value ?? '' };
});
const show = (options: readonly TftpOption[] | null) => (options ? options.map((x) => `${x.name}=${x.value}`).join(' ') : null);

describe('negotiate', () => {
  const cases: {
    name: string; options: string; size?: number; limits?: Partial<TftpLimits>;
    oack: string | null; blksize?: number; windowsize?: number; timeoutMs?: number;
  }[] = [
    { name: 'no options: plain RFC 1350, no OACK', options: '', oack: null, blksize: 512, windowsize: 1, timeoutMs: 1000 },
    { name: 'OVMF probe (FACTS.md)', options: 'tsize=0 blksize=1468 windowsize=4', size: 173792, oack: 'tsize=173792 blksize=1468 windowsize=4', blksize: 1468, windowsize: 4 },
    { name: 'OVMF download: tsize not asked, not echoed', options: 'blksize=1468 windowsize=4', oack: 'blksize=1468 windowsize=4' },
    { name: 'iPXE', options: 'blksize=1432 tsize=0', size: 5, oack: 'blksize=1432 tsize=5', blksize: 1432, windowsize: 1 },
    { name: 'shim: 512 without tsize', options: 'blksize=512', oack: 'blksize=512', blksize: 512 },
    { name: 'blksize capped to mtu - 32', options: 'blksize=65464', oack: 'blksize=1468', blksize: 1468 },
    { name: 'blksize capped to a smaller mtu', options: 'blksize=1468', limits: { mtu: 1400 }, oack: 'blksize=1368', blksize: 1368 },
    { name: 'blksize above the RFC 2348 maximum, on a jumbo mtu', options: 'blksize=99999', limits: { mtu: 65535 }, oack: 'blksize=65464', blksize: 65464 },
    { name: 'blksize below 8 ignored', options: 'blksize=7', oack: null, blksize: 512 },
    { name: 'blksize not a number ignored', options: 'blksize=big tsize=0', size: 1, oack: 'tsize=1', blksize: 512 },
    { name: 'tsize other than 0 still gets the real size', options: 'tsize=42', size: 1000, oack: 'tsize=1000' },
    { name: 'tsize of an empty file', options: 'tsize=0', size: 0, oack: 'tsize=0' },
    { name: 'timeout echoed unchanged and used', options: 'timeout=6', oack: 'timeout=6', timeoutMs: 6000 },
    { name: 'timeout 0 ignored (RFC 2349: 1..255)', options: 'timeout=0', oack: null, timeoutMs: 1000 },
    { name: 'timeout 256 ignored', options: 'timeout=256', oack: null },
    { name: 'windowsize capped to maxWindow', options: 'windowsize=1000', oack: 'windowsize=64', windowsize: 64 },
    { name: 'windowsize 0 ignored (RFC 7440: 1..65535)', options: 'windowsize=0', oack: null, windowsize: 1 },
    { name: 'unknown options ignored', options: 'multicast= rollover=0 blksize=1024', oack: 'blksize=1024', blksize: 1024 },
    { name: 'names are case-insensitive and echoed as spelled', options: 'BlkSize=1024 TSIZE=0', size: 9, oack: 'BlkSize=1024 TSIZE=9', blksize: 1024 },
    { name: 'a repeated option counts once', options: 'blksize=1024 blksize=2048', oack: 'blksize=1024', blksize: 1024 },
    { name: 'numbers with signs or spaces ignored', options: 'blksize=+1024 windowsize=-4 timeout=1e3', oack: null },
  ];
  test.each(cases)('$name', (c) => {
    const got = negotiate(o(c.options), c.size ?? 1000, { ...defaultLimits, ...c.limits });
    expect(show(got.oack)).toBe(c.oack);
    if (c.blksize !== undefined) expect(got.blksize).toBe(c.blksize);
    if (c.windowsize !== undefined) expect(got.windowsize).toBe(c.windowsize);
    if (c.timeoutMs !== undefined) expect(got.timeoutMs).toBe(c.timeoutMs);
  });

  test('maxBlksizeFor keeps IP + UDP + TFTP headers inside the MTU', () => {
    expect(maxBlksizeFor(1500)).toBe(1468);
    expect(maxBlksizeFor(576)).toBe(544);
    expect(maxBlksizeFor(9000)).toBe(8968);
    expect(maxBlksizeFor(65535)).toBe(65464);
  });
});

describe('checkRequest', () => {
  const rrq = (fields: Partial<RequestPacket> = {}): RequestPacket => ({ opcode: Opcode.rrq, filename: 'snponly.efi', mode: 'octet', options: [], ...fields });
  const cases: { name: string; request: RequestPacket; code?: number }[] = [
    { name: 'RRQ octet', request: rrq() },
    { name: 'mode is case-insensitive', request: rrq({ mode: 'OCTET' }) },
    { name: 'WRQ: access violation (read-only server)', request: rrq({ opcode: Opcode.wrq }), code: ErrorCode.accessViolation },
    { name: 'netascii refused', request: rrq({ mode: 'netascii' }), code: ErrorCode.illegalOperation },
    { name: 'mail refused', request: rrq({ mode: 'mail' }), code: ErrorCode.illegalOperation },
    { name: 'empty file name', request: rrq({ filename: '' }), code: ErrorCode.fileNotFound },
    { name: 'NUL in the name', request: rrq({ filename: 'a\0b' }), code: ErrorCode.accessViolation },
    { name: 'name of 512 octets is fine', request: rrq({ filename: 'a'.repeat(512) }) },
    { name: 'name over 512 octets refused', request: rrq({ filename: 'a'.repeat(513) }), code: ErrorCode.accessViolation },
    { name: 'length counts UTF-8 octets', request: rrq({ filename: 'ü'.repeat(257) }), code: ErrorCode.accessViolation },
  ];
  test.each(cases)('$name', ({ request, code }) => {
    const check = checkRequest(request);
    if (code === undefined) expect(check).toEqual({ kind: 'accept' });
    else expect(check).toMatchObject({ kind: 'refuse', code });
  });

  test('the netascii refusal tells tftp-hpa users what to do', () => {
    expect(checkRequest(rrq({ mode: 'netascii' }))).toMatchObject({ message: expect.stringContaining('octet (binary)') });
  });
});
