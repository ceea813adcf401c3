// The TFTP codec against the RFC figures, octet by octet (RFC 1350 §5, RFC 2347).
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import {
  ackBlock, decodeTftp, DecodeError, encodeTftp, EncodeError, Opcode, renderPacket, writeDataHeader,
  type TftpPacket,
} from '../../src/tftp/codec/index.js';

const bytes = (...parts: (number[] | string)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('wire format', () => {
  const cases: { name: string; packet: TftpPacket; wire: Buffer }[] = [
    {
      name: 'RRQ (Figure 5-1) with RFC 2347 options',
      packet: { opcode: Opcode.rrq, filename: 'efi/bootx64.efi', mode: 'octet', options: [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }] },
      wire: bytes([0, 1], 'efi/bootx64.efi\0octet\0tsize\x000\0blksize\x001468\0'),
    },
    {
      name: 'WRQ without options',
      packet: { opcode: Opcode.wrq, filename: 'upload', mode: 'netascii', options: [] },
      wire: bytes([0, 2], 'upload\0netascii\0'),
    },
    {
      name: 'DATA (Figure 5-2)',
      packet: { opcode: Opcode.data, block: 0x1234, data: Buffer.from([1, 2, 3]) },
      wire: bytes([0, 3, 0x12, 0x34, 1, 2, 3]),
    },
    { name: 'empty DATA (the end of a file of whole blocks)', packet: { opcode: Opcode.data, block: 7, data: Buffer.alloc(0) }, wire: bytes([0, 3, 0, 7]) },
    { name: 'ACK (Figure 5-3)', packet: { opcode: Opcode.ack, block: 65535 }, wire: bytes([0, 4, 0xff, 0xff]) },
    {
      name: 'ERROR (Figure 5-4)',
      packet: { opcode: Opcode.error, code: 1, message: 'File not found' },
      wire: bytes([0, 5, 0, 1], 'File not found\0'),
    },
    {
      name: 'OACK (RFC 2347)',
      packet: { opcode: Opcode.oack, options: [{ name: 'blksize', value: '1432' }] },
      wire: bytes([0, 6], 'blksize\x001432\0'),
    },
    {
      name: 'a UTF-8 file name',
      packet: { opcode: Opcode.rrq, filename: 'grüße.cfg', mode: 'octet', options: [] },
      wire: Buffer.concat([bytes([0, 1]), Buffer.from('grüße.cfg\0', 'utf8'), bytes('octet\0')]),
    },
  ];
  test.each(cases)('$name', ({ packet, wire }) => {
    expect(encodeTftp(packet)).toEqual(wire);
    expect(decodeTftp(wire)).toEqual(packet);
  });

  test('an ACK with trailing octets is still that ACK (tftpd-hpa reads only the first four)', () => {
    expect(decodeTftp(bytes([0, 4, 0, 9, 0, 0]))).toEqual({ opcode: Opcode.ack, block: 9 });
    expect(ackBlock(bytes([0, 4, 0, 9, 0, 0]))).toBe(9);
  });

  test('an ERROR without its NUL still carries the message (the client means to stop)', () => {
    expect(decodeTftp(bytes([0, 5, 0, 8], 'User aborted'))).toEqual({ opcode: Opcode.error, code: 8, message: 'User aborted' });
  });

  test('NUL padding after the last option is not an option', () => {
    expect(decodeTftp(bytes([0, 1], 'pxelinux.0\0octet\0tsize\x000\0\0\0\0'))).toEqual({
      opcode: Opcode.rrq, filename: 'pxelinux.0', mode: 'octet', options: [{ name: 'tsize', value: '0' }],
    });
  });

  test('ackBlock answers -1 for anything but an ACK', () => {
    expect(ackBlock(bytes([0, 3, 0, 1]))).toBe(-1);
    expect(ackBlock(bytes([0, 4, 0]))).toBe(-1);
    expect(ackBlock(bytes([1, 4, 0, 1]))).toBe(-1);
  });

  test('writeDataHeader lays a DATA header into a larger buffer', () => {
    const target = Buffer.alloc(10, 0xee);
    writeDataHeader(target, 3, 0xabcd);
    expect([...target]).toEqual([0xee, 0xee, 0xee, 0, 3, 0xab, 0xcd, 0xee, 0xee, 0xee]);
  });
});

describe('DecodeError names the field and the offset', () => {
  const cases: { name: string; wire: Buffer; field: string; offset: number }[] = [
    { name: 'too short for an opcode', wire: bytes([0]), field: 'opcode', offset: 0 },
    { name: 'unknown opcode', wire: bytes([0, 9]), field: 'opcode', offset: 0 },
    { name: 'file name without NUL', wire: bytes([0, 1], 'abc'), field: 'filename', offset: 2 },
    { name: 'mode without NUL', wire: bytes([0, 1], 'abc\0oct'), field: 'mode', offset: 6 },
    { name: 'empty mode', wire: bytes([0, 1], 'abc\0\0'), field: 'mode', offset: 6 },
    { name: 'option without value', wire: bytes([0, 1], 'a\0octet\0tsize\0'), field: 'option 1 value', offset: 16 },
    { name: 'empty option name before more data', wire: bytes([0, 1], 'a\0octet\0\0x\0'), field: 'option 1 name', offset: 10 },
    { name: 'invalid UTF-8 file name', wire: bytes([0, 1, 0xc3, 0x28, 0], 'octet\0'), field: 'filename', offset: 2 },
    { name: 'ACK without block', wire: bytes([0, 4, 1]), field: 'block', offset: 2 },
    { name: 'ERROR without code', wire: bytes([0, 5, 0]), field: 'error code', offset: 2 },
  ];
  test.each(cases)('$name', ({ wire, field, offset }) => {
    let error: unknown;
    try {
      decodeTftp(wire);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ field, offset });
  });
});

describe('EncodeError for what could not be read back', () => {
  const cases: { name: string; packet: TftpPacket }[] = [
    { name: 'NUL in a file name', packet: { opcode: Opcode.rrq, filename: 'a\0b', mode: 'octet', options: [] } },
    { name: 'empty mode', packet: { opcode: Opcode.rrq, filename: 'a', mode: '', options: [] } },
    { name: 'empty option name', packet: { opcode: Opcode.oack, options: [{ name: '', value: '1' }] } },
    { name: 'option value beyond latin1', packet: { opcode: Opcode.oack, options: [{ name: 'x', value: '€' }] } },
    { name: 'lone surrogate in a file name', packet: { opcode: Opcode.rrq, filename: '\ud800', mode: 'octet', options: [] } },
    { name: 'block number over 65535', packet: { opcode: Opcode.ack, block: 65536 } },
    { name: 'negative error code', packet: { opcode: Opcode.error, code: -1, message: '' } },
  ];
  test.each(cases)('$name', ({ packet }) => {
    expect(() => encodeTftp(packet)).toThrow(EncodeError);
  });
});

test('renderPacket summarises DATA payloads', () => {
  expect(renderPacket({ opcode: Opcode.data, block: 3, data: Buffer.from('0123456789abcdefXYZ') })).toBe(
    'opcode   DATA (3)\nblock    3\ndata     19 octets: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 ...\n',
  );
  expect(renderPacket({ opcode: Opcode.data, block: 4, data: Buffer.alloc(0) })).toBe('opcode   DATA (3)\nblock    4\ndata     0 octets\n');
});
