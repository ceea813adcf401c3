// TftpPacket -> bytes (RFC 1350 §5, RFC 2347). The encoder refuses what the decoder could not
// read back (NUL inside a string, numbers out of range), so decode(encode(p)) equals p.
import { Buffer } from 'node:buffer';
import { EncodeError } from './errors.js';
import { DATA_HEADER_LENGTH, MAX_BLOCK, Opcode, type TftpOption, type TftpPacket } from './packet.js';

export function encodeTftp(packet: TftpPacket): Buffer {
  switch (packet.opcode) {
    case Opcode.rrq:
    case Opcode.wrq:
      return withOpcode(packet.opcode, [
        cString('filename', packet.filename, 'utf8'),
        cString('mode', nonEmpty('mode', packet.mode), 'latin1'),
        ...optionStrings(packet.options),
      ]);
    case Opcode.data: {
      const bytes = Buffer.allocUnsafe(DATA_HEADER_LENGTH + packet.data.length);
      writeDataHeader(bytes, 0, packet.block);
      bytes.set(packet.data, DATA_HEADER_LENGTH);
      return bytes;
    }
    case Opcode.ack: {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt16BE(Opcode.ack, 0);
      bytes.writeUInt16BE(checked('block', packet.block, MAX_BLOCK), 2);
      return bytes;
    }
    case Opcode.error: {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(checked('error code', packet.code, 0xffff), 0);
      return withOpcode(Opcode.error, [code, cString('message', packet.message, 'latin1')]);
    }
    case Opcode.oack:
      return withOpcode(Opcode.oack, optionStrings(packet.options));
  }
}

/**
 * Writes a DATA header (opcode 3, block) at `offset`: the session lays whole windows of DATA packets
 * into one buffer instead of allocating one per packet.
 */
export function writeDataHeader(target: Buffer, offset: number, block: number): void {
  target[offset] = 0;
  target[offset + 1] = Opcode.data;
  target.writeUInt16BE(checked('block', block, MAX_BLOCK), offset + 2);
}

function withOpcode(opcode: number, parts: Buffer[]): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(opcode, 0);
  return Buffer.concat([head, ...parts]);
}

function optionStrings(options: readonly TftpOption[]): Buffer[] {
  return options.flatMap((o, i) => {
    if (o.name === '') throw new EncodeError(`option ${i + 1}`, 'empty option name');
    return [cString(`option ${i + 1} name`, o.name, 'latin1'), cString(`option ${i + 1} value`, o.value, 'latin1')];
  });
}

function cString(field: string, value: string, encoding: 'utf8' | 'latin1'): Buffer {
  if (value.includes('\0')) throw new EncodeError(field, 'contains NUL, which ends a TFTP string');
  // latin1 would silently keep only the low byte of wider characters.
  // eslint-disable-next-line no-control-regex -- the range is exactly what latin1 can carry
  if (encoding === 'latin1' && /[^\x00-\xff]/.test(value)) throw new EncodeError(field, 'has characters beyond U+00FF');
  const bytes = Buffer.from(`${value}\0`, encoding);
  if (encoding === 'utf8' && bytes.toString('utf8') !== `${value}\0`) {
    throw new EncodeError(field, 'is not well-formed Unicode (lone surrogate)');
  }
  return bytes;
}

function nonEmpty(field: string, value: string): string {
  if (value === '') throw new EncodeError(field, 'is empty');
  return value;
}

function checked(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new EncodeError(field, `${value} is not an integer in 0..${max}`);
  return value;
}
