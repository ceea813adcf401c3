// Dotted-quad parsing is on every packet's path (policy and encoder): exact acceptance, and agreement
// with Node's own IPv4 check on random text.
import fc from 'fast-check';
import { isIPv4 } from 'node:net';
import { describe, expect, test } from 'vitest';
import { formatIpv4, parseIpv4 } from '../../src/dhcp/codec/index.js';

describe('parseIpv4', () => {
  test.each([
    { text: '0.0.0.0', want: 0 },
    { text: '255.255.255.255', want: 0xffffffff },
    { text: '10.214.1.7', want: 0x0ad60107 },
    { text: '192.0.2.1', want: 0xc0000201 },
    { text: '010.1.1.1', want: 0x0a010101 }, // leading zeros are decimal, never octal
  ])('$text', ({ text, want }) => {
    expect(parseIpv4(text)).toBe(want);
  });

  test.each(['', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '256.1.1.1', '1.2.3.256', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.0004', '+1.2.3.4', '1.2.3.a', '1.2.3.4.5'])(
    'rejects %j', (text) => {
      expect(parseIpv4(text)).toBeUndefined();
    },
  );

  test('round-trips every 32-bit value and agrees with node:net on random text', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
    const octetish = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.stringMatching(/^[0-9.]{0,4}$/));
    fc.assert(fc.property(fc.array(octetish, { minLength: 1, maxLength: 5 }), (parts) => {
      const text = parts.join('.');
      // node:net refuses leading zeros, which DHCP configs and old tools do write; compare without them.
      if (/(^|\.)0\d/.test(text)) return true;
      return (parseIpv4(text) !== undefined) === isIPv4(text);
    }), { numRuns: 5000 });
  });
});
