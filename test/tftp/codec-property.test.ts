// Property tests for the decoder (STYLE.md §11): whatever the bytes, decodeTftp returns a packet or
// throws DecodeError, never anything else; golden packets survive every truncation cleanly; every
// packet the encoder can write decodes back to itself.
import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ackBlock, decodeTftp, DecodeError, encodeTftp, Opcode, type TftpOption, type TftpPacket,
} from '../../src/tftp/codec/index.js';

const goldenDir = join(import.meta.dirname, '../../testdata/tftp');
const goldens = readdirSync(goldenDir).filter((f) => f.endsWith('.bin')).sort();

/** decode, and say how it ended: 'value', 'decode-error', or the unexpected error itself. */
function outcome(bytes: Uint8Array): 'value' | 'decode-error' {
  try {
    decodeTftp(bytes);
    return 'value';
  } catch (err) {
    if (err instanceof DecodeError) return 'decode-error';
    throw err;
  }
}

describe('decodeTftp never throws anything but DecodeError', () => {
  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      outcome(bytes);
    }), { numRuns: 3000 });
  });

  test('each opcode followed by random bytes, NUL-heavy so strings and options get parsed', () => {
    const octet = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x62, 0x6c, 0x6b));
    fc.assert(fc.property(fc.integer({ min: 0, max: 7 }), fc.array(octet, { maxLength: 80 }), (op, tail) => {
      outcome(Buffer.from([0, op, ...tail]));
    }), { numRuns: 5000 });
  });

  test('ackBlock agrees with decodeTftp', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), (bytes) => {
      const fast = ackBlock(bytes);
      let slow = -1;
      try {
        const p = decodeTftp(bytes);
        if (p.opcode === Opcode.ack) slow = p.block;
      } catch {
        // not an ACK
      }
      expect(fast).toBe(slow);
    }), { numRuns: 3000 });
  });

  // Inputs that once mattered, kept by name (a fast-check counterexample goes here when one turns up).
  const regressions: { name: string; bytes: number[]; want: 'value' | 'decode-error' }[] = [
    { name: 'empty input', bytes: [], want: 'decode-error' },
    { name: 'one octet', bytes: [0], want: 'decode-error' },
    { name: 'opcode 0', bytes: [0, 0, 0, 0], want: 'decode-error' },
    { name: 'RRQ without NUL after the file name', bytes: [0, 1, 0x61], want: 'decode-error' },
    { name: 'RRQ with an empty mode', bytes: [0, 1, 0x61, 0, 0], want: 'decode-error' },
    { name: 'RRQ with invalid UTF-8 in the name', bytes: [0, 1, 0xff, 0, 0x6f, 0], want: 'decode-error' },
    { name: 'RRQ with an option name but no value', bytes: [0, 1, 0x61, 0, 0x6f, 0, 0x74, 0], want: 'decode-error' },
    { name: 'RRQ padded with NULs', bytes: [0, 1, 0x61, 0, 0x6f, 0, 0, 0, 0], want: 'value' },
    { name: 'ACK with one block octet', bytes: [0, 4, 0], want: 'decode-error' },
    { name: 'ERROR without its NUL', bytes: [0, 5, 0, 8, 0x61], want: 'value' },
    { name: 'ERROR with no message at all', bytes: [0, 5, 0, 8], want: 'value' },
    { name: 'OACK with no options', bytes: [0, 6], want: 'value' },
  ];
  test.each(regressions)('regression: $name', ({ bytes, want }) => {
    expect(outcome(Buffer.from(bytes))).toBe(want);
  });
});

describe.each(goldens)('every prefix of %s', (name) => {
  const bytes = readFileSync(join(goldenDir, name));
  test('decodes or is rejected with DecodeError, and the whole packet decodes', () => {
    for (let length = 0; length < bytes.length; length++) outcome(bytes.subarray(0, length));
    expect(outcome(bytes)).toBe('value');
  });
});

describe('encode then decode gives the packet back', () => {
  const latin1 = (minLength: number, maxLength: number) => fc.string({
    minLength, maxLength, unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)),
  });
  const filename = fc.string({ maxLength: 60, unit: 'grapheme' }).filter((s) => !s.includes('\0'));
  const option: fc.Arbitrary<TftpOption> = fc.record({ name: latin1(1, 12), value: latin1(0, 12) });
  const options = fc.array(option, { maxLength: 6 });
  const u16 = fc.nat(0xffff);
  const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
    fc.record({ opcode: fc.constantFrom(Opcode.rrq, Opcode.wrq), filename, mode: latin1(1, 10), options }),
    fc.record({ opcode: fc.constant(Opcode.data), block: u16, data: fc.uint8Array({ maxLength: 600 }).map((d) => Buffer.from(d)) }),
    fc.record({ opcode: fc.constant(Opcode.ack), block: u16 }),
    fc.record({ opcode: fc.constant(Opcode.error), code: u16, message: latin1(0, 40) }),
    fc.record({ opcode: fc.constant(Opcode.oack), options }),
  );

  test('for arbitrary packets', () => {
    fc.assert(fc.property(packet, (p) => {
      expect(decodeTftp(encodeTftp(p))).toEqual(p);
    }), { numRuns: 2000 });
  });
});
