// Typed codec failures (STYLE.md §2 and §7). They live here, not in src/errors.ts, because codecs
// import nothing of ours; the server catches DecodeError and ignores the datagram (or, for a request
// it cannot read, answers ERROR 4) at debug level.

/** The bytes are not a TFTP packet we can read. Never a RangeError in disguise. */
export class DecodeError extends Error {
  /** Which part of the packet was wrong: `opcode`, `filename`, `mode`, `option 2`, `block`, ... */
  readonly field: string;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;

  constructor(field: string, offset: number, problem: string) {
    super(`cannot decode TFTP ${field} at byte ${offset}: ${problem}`);
    this.name = 'DecodeError';
    this.field = field;
    this.offset = offset;
  }
}

/** A packet value that cannot be put on the wire as asked (a programming error in the caller). */
export class EncodeError extends Error {
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`cannot encode TFTP ${field}: ${problem}`);
    this.name = 'EncodeError';
    this.field = field;
  }
}
