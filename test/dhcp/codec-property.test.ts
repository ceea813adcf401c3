// Property tests for the decoder (STYLE.md §11): whatever the bytes, decodeDhcp returns a packet or
// throws DecodeError, never anything else; golden packets survive every truncation cleanly.
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeDhcp, DecodeError, encodeDhcp, Layout, MAGIC_COOKIE, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';

const goldenDir = join(import.meta.dirname, '../../testdata/dhcp');
const goldens = readdirSync(goldenDir).filter((f) => f.endsWith('.bin')).sort();

/** decode, and say how it ended: 'value', 'decode-error', or the unexpected error itself. */
function outcome(bytes: Uint8Array): 'value' | 'decode-error' {
  try {
    const packet = decodeDhcp(bytes);
    // A decoded value must also be encodable as far as the codec is concerned, or a bug hides here.
    expect(packet.chaddr.length).toBeLessThanOrEqual(16);
    return 'value';
  } catch (err) {
    if (err instanceof DecodeError) return 'decode-error';
    throw err;
  }
}

/** Header + magic cookie, so that random tails exercise the option parser, not just the length check. */
const dhcpPrefix = fc.uint8Array({ minLength: Layout.magicCookie, maxLength: Layout.magicCookie }).map((header) => {
  const bytes = Buffer.alloc(Layout.options);
  Buffer.from(header).copy(bytes);
  bytes[Layout.op] = 1;
  bytes[Layout.hlen] = Math.min(bytes[Layout.hlen]!, 16);
  bytes.writeUInt32BE(MAGIC_COOKIE, Layout.magicCookie);
  return bytes;
});

describe('decodeDhcp never throws anything but DecodeError', () => {
  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
      outcome(bytes);
    }), { numRuns: 2000 });
  });

  test('a valid header followed by random options', () => {
    fc.assert(fc.property(dhcpPrefix, fc.uint8Array({ maxLength: 400 }), (prefix, tail) => {
      outcome(Buffer.concat([prefix, tail]));
    }), { numRuns: 3000 });
  });

  test('random option TLVs, including overload and repeated codes', () => {
    const option = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 20 }))
      .map(([code, data]) => [code, data.length, ...data]);
    const overload = fc.constantFrom([], [52, 1, 1], [52, 1, 2], [52, 1, 3], [52, 1, 0]);
    fc.assert(fc.property(dhcpPrefix, overload, fc.array(option, { maxLength: 12 }), (prefix, over, options) => {
      outcome(Buffer.concat([prefix, Buffer.from([...over, ...options.flat(), 255])]));
    }), { numRuns: 3000 });
  });

  // Inputs that once mattered, kept by name (a fast-check counterexample goes here when one turns up).
  const regressions: { name: string; bytes: Buffer }[] = [
    { name: 'empty input', bytes: Buffer.alloc(0) },
    { name: 'BOOTP header only', bytes: Buffer.from([1, ...Buffer.alloc(235)]) },
    { name: 'code byte as the last octet', bytes: Buffer.concat([dhcpPrefixOf(), Buffer.from([61])]) },
    { name: 'option 52 claiming 0 octets', bytes: Buffer.concat([dhcpPrefixOf(), Buffer.from([52, 0, 255])]) },
  ];
  test.each(regressions)('regression: $name', ({ bytes }) => {
    expect(outcome(bytes)).toBe('decode-error');
  });
});

function dhcpPrefixOf(): Buffer {
  const bytes = Buffer.alloc(Layout.options);
  bytes[Layout.op] = 1;
  bytes.writeUInt32BE(MAGIC_COOKIE, Layout.magicCookie);
  return bytes;
}

describe.each(goldens)('every prefix of %s', (name) => {
  const bytes = readFileSync(join(goldenDir, name));
  test('decodes or is rejected with DecodeError', () => {
    const ended = new Set<string>();
    for (let length = 0; length <= bytes.length; length++) ended.add(outcome(bytes.subarray(0, length)));
    expect(ended).toEqual(new Set(['value', 'decode-error']));
    expect(outcome(bytes)).toBe('value');
  });
});

describe('encode then decode gives the packet back', () => {
  const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  const latin1 = (maxLength: number) => fc.string({ maxLength, unit: fc.integer({ min: 1, max: 255 })
    .map((c) => String.fromCharCode(c)) });
  const packet: fc.Arbitrary<DhcpPacket> = fc.record({
    op: fc.constantFrom(1 as const, 2 as const),
    htype: fc.nat(255),
    hops: fc.nat(255),
    xid: fc.nat(0xffffffff),
    secs: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    ciaddr: ip, yiaddr: ip, siaddr: ip, giaddr: ip,
    chaddr: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
    sname: latin1(63),
    file: latin1(127),
    options: fc.record({
      messageType: fc.integer({ min: 1, max: 8 }),
      requestedAddress: ip,
      dnsServers: fc.array(ip, { minLength: 1, maxLength: 3 }),
      hostName: latin1(300),
      maxMessageSize: fc.nat(0xffff),
      leaseTime: fc.nat(0xffffffff),
      clientArchitectures: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 3 }),
      parameterRequestList: fc.array(fc.nat(255), { maxLength: 30 }),
      ipxeEncapsulated: fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 8 })))
        .map((entries) => new Map(entries.map(([c, d]) => [c, Buffer.from(d)]))),
    }, { requiredKeys: [] }),
  });

  test('for arbitrary packets', () => {
    fc.assert(fc.property(packet, (p) => {
      expect(decodeDhcp(encodeDhcp(p))).toEqual(p);
    }), { numRuns: 1000 });
  });
});
