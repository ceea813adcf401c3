// TFTP packets as values (RFC 1350 §5, Figures 5-1..5-4; OACK from RFC 2347).
import type { Buffer } from 'node:buffer';

/** RFC 1350 §5 opcodes, plus RFC 2347's OACK. */
export const Opcode = { rrq: 1, wrq: 2, data: 3, ack: 4, error: 5, oack: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

const opcodeNames = new Map<number, string>([
  [Opcode.rrq, 'RRQ'], [Opcode.wrq, 'WRQ'], [Opcode.data, 'DATA'],
  [Opcode.ack, 'ACK'], [Opcode.error, 'ERROR'], [Opcode.oack, 'OACK'],
]);

/** `RRQ` for 1 and so on; `opcode 9` for values no RFC defines. */
export function opcodeName(value: number): string {
  return opcodeNames.get(value) ?? `opcode ${value}`;
}

/** RFC 1350 error codes (its appendix), plus 8 from RFC 2347 (option negotiation refused). */
export const ErrorCode = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  /** RFC 2347: the client refuses the OACK. OVMF sends it on purpose after a tsize probe (FACTS.md). */
  optionsRefused: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Octets before the payload of a DATA packet: opcode and block number (RFC 1350 §5 Figure 5-2). */
export const DATA_HEADER_LENGTH = 4;

/** Block numbers are 16 bits; transfers longer than 65535 blocks wrap (see session.ts). */
export const MAX_BLOCK = 0xffff;

/**
 * One RFC 2347 option as sent: names are case-insensitive on the wire, so the codec keeps the
 * spelling it saw (round trips stay exact) and negotiation compares lower-cased names.
 */
export interface TftpOption {
  readonly name: string;
  readonly value: string;
}

export interface RequestPacket {
  readonly opcode: typeof Opcode.rrq | typeof Opcode.wrq;
  /** UTF-8 on the wire (ASCII for every firmware we know); never contains NUL. */
  readonly filename: string;
  /** `octet`, `netascii` or `mail`, in any case (RFC 1350 §5). */
  readonly mode: string;
  /** RFC 2347 options in the order sent; empty for a plain RFC 1350 request. */
  readonly options: readonly TftpOption[];
}

export interface DataPacket {
  readonly opcode: typeof Opcode.data;
  readonly block: number;
  /** 0..blksize octets; a view into the decoded input, not a copy. */
  readonly data: Buffer;
}

export interface AckPacket {
  readonly opcode: typeof Opcode.ack;
  readonly block: number;
}

export interface ErrorPacket {
  readonly opcode: typeof Opcode.error;
  readonly code: number;
  readonly message: string;
}

export interface OackPacket {
  readonly opcode: typeof Opcode.oack;
  readonly options: readonly TftpOption[];
}

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;
