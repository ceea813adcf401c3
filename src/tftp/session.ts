// One read transfer as a pure state machine (STYLE.md §1, §3): events in (an ACK, an ERROR, the
// bytes of a file read, the clock), a Step out (datagrams to send, a read to start, when to call
// onTimeout next, how it ended). No sockets, files or timers here; transfer.ts carries Steps out.
//
// Blocks are counted with absolute numbers from 1 (block 0 stands for the OACK); only the wire sees
// them modulo 65536. Past block 65535 the wire number wraps to 0, as tftp-hpa, curl and atftp
// expect, so files over 32 MiB at 512-octet blocks work (RFC 1350 has no word on it).
import { Buffer } from 'node:buffer';
import {
  DATA_HEADER_LENGTH, encodeTftp, ErrorCode, Opcode, writeDataHeader, type TftpOption,
} from './codec/index.js';

export interface SessionParameters {
  /** File size in octets. */
  readonly size: number;
  readonly blksize: number;
  /** RFC 7440: blocks sent before waiting for an ACK; 1 is plain RFC 1350 lock-step. */
  readonly windowsize: number;
  readonly timeoutMs: number;
  /** Retransmissions of the outstanding window before giving up. */
  readonly retries: number;
  /** The options to acknowledge first (RFC 2347), or null to start with DATA 1. */
  readonly oack: readonly TftpOption[] | null;
  /** Octets to read from the file at once, rounded up to whole blocks; at least one window. */
  readonly readSize?: number;
}

export interface ReadRequest {
  readonly position: number;
  readonly length: number;
}

export type EndKind = 'sent' | 'aborted' | 'failed';

export interface SessionEnd {
  /** sent: the last block was acknowledged; aborted: the client sent ERROR; failed: anything else. */
  readonly kind: EndKind;
  readonly reason: string;
  /** File octets the client acknowledged. */
  readonly bytes: number;
  /** The client's ERROR, when it ended the transfer (code 8 after a tsize probe is normal: FACTS.md). */
  readonly clientError?: { readonly code: number; readonly message: string };
  readonly retransmits: number;
}

export interface Step {
  /** Datagrams to send to the client, in order. */
  readonly send: readonly Buffer[];
  /** A read to start now; its bytes go to onRead. At most one read is outstanding. */
  readonly read: ReadRequest | null;
  /** When onTimeout is due (clock of the `now` arguments), or null when nothing is outstanding. */
  readonly deadline: number | null;
  /** Set once, when the transfer is over; nothing more is sent after it. */
  readonly end: SessionEnd | null;
}

const nothing: readonly Buffer[] = Object.freeze([]);
/** Enough to amortise a read (a thread-pool round trip in Node) over many blocks. */
const DEFAULT_READ_SIZE = 64 * 1024;

export class ReadSession {
  private readonly lastBlock: number;
  private readonly blocksPerRead: number;
  /** Highest block the client acknowledged: -1 while the OACK (block 0) is outstanding. */
  private acked: number;
  /** Highest block sent in the current window. */
  private sentTo = 0;
  /** Encoded DATA packets: queue[head] is block queueStart (read, not yet acknowledged). */
  private queue: Buffer[] = [];
  private head = 0;
  private queueStart = 1;
  private reading: { readonly first: number; readonly count: number; readonly request: ReadRequest } | null = null;
  private retriesLeft: number;
  private retransmits = 0;
  private deadline: number | null = null;
  private ended: SessionEnd | null = null;
  private readonly oackPacket: Buffer | null;

  constructor(private readonly p: SessionParameters) {
    // A file of n full blocks ends with an empty block (RFC 1350 §6: a DATA shorter than blksize ends it).
    this.lastBlock = Math.floor(p.size / p.blksize) + 1;
    this.blocksPerRead = Math.max(p.windowsize, Math.ceil((p.readSize ?? DEFAULT_READ_SIZE) / p.blksize));
    this.oackPacket = p.oack ? encodeTftp({ opcode: Opcode.oack, options: p.oack }) : null;
    this.acked = this.oackPacket ? -1 : 0;
    this.retriesLeft = p.retries;
  }

  get done(): boolean {
    return this.ended !== null;
  }

  /** The last block has gone out at least once: the client may finish (and ask again) any moment. */
  get lastBlockSent(): boolean {
    return this.sentTo >= this.lastBlock;
  }

  /** The OACK when options were accepted, else DATA 1 as soon as its bytes are read. */
  start(now: number): Step {
    const send: Buffer[] = [];
    if (this.oackPacket) {
      send.push(this.oackPacket);
      this.deadline = now + this.p.timeoutMs;
    }
    return this.step(send, this.nextRead());
  }

  /** An ACK from the client's TID, `block` as on the wire. */
  onAck(block: number, now: number): Step {
    if (this.ended) return this.step(nothing);
    const acked = this.resolve(block);
    // RFC 1123 §4.2.3.1 (Sorcerer's Apprentice): a duplicate ACK never triggers a retransmission,
    // or every later block goes out twice, then four times... Only the timeout retransmits.
    if (acked === null) return this.step(nothing);
    this.acked = acked;
    this.retriesLeft = this.p.retries;
    this.drop(acked);
    if (acked === this.lastBlock) return this.finish({ kind: 'sent', reason: 'last block acknowledged' });
    // RFC 7440 §4: an ACK for a block inside the window means the client missed the block after it;
    // the next window starts there.
    if (acked < this.sentTo) this.sentTo = acked;
    this.deadline = null;
    const send = this.pump(now);
    return this.step(send, this.nextRead());
  }

  /** An ERROR from the client's TID ends the transfer at once, with no reply (RFC 1350 §7). */
  onError(code: number, message: string): Step {
    if (this.ended) return this.step(nothing);
    return this.finish({
      kind: 'aborted', reason: `client sent ERROR ${code} ${JSON.stringify(message)}`, clientError: { code, message },
    });
  }

  /** A packet a reading client never sends (DATA, OACK, a request) from the client's TID. */
  onIllegal(what: string): Step {
    if (this.ended) return this.step(nothing);
    return this.finish({ kind: 'failed', reason: `client sent ${what} during a read` }, ErrorCode.illegalOperation, 'illegal TFTP operation');
  }

  /** The bytes of the read asked for in an earlier Step. */
  onRead(position: number, data: Buffer, now: number): Step {
    const pending = this.reading;
    if (this.ended || !pending || pending.request.position !== position) return this.step(nothing);
    this.reading = null;
    if (data.length < pending.request.length) {
      return this.abort('file changed while being read', `short read at ${position}: ${data.length} of ${pending.request.length} octets`);
    }
    this.enqueue(pending.first, pending.count, data);
    const send = this.pump(now);
    return this.step(send, this.nextRead());
  }

  onTimeout(now: number): Step {
    if (this.ended || this.deadline === null || now < this.deadline) return this.step(nothing);
    if (this.acked >= 0 && this.sentTo === this.acked) {
      this.deadline = null; // nothing outstanding: we are waiting for our own read, not for the client
      return this.step(nothing);
    }
    if (this.retriesLeft === 0) {
      const waitingFor = this.acked < 0 ? 'ACK of the OACK' : this.sentTo === this.lastBlock ? 'ACK of the last block (the client may have the whole file)' : `ACK of block ${this.sentTo}`;
      return this.finish({ kind: 'failed', reason: `timed out waiting for ${waitingFor} after ${this.p.retries} retransmissions` }, ErrorCode.notDefined, 'timed out');
    }
    this.retriesLeft -= 1;
    this.retransmits += 1;
    this.deadline = now + this.p.timeoutMs;
    if (this.acked < 0) return this.step(this.oackPacket ? [this.oackPacket] : nothing);
    // The whole outstanding window again (RFC 7440 §4); for windowsize 1, the one unacknowledged block.
    return this.step(this.queue.slice(this.head, this.head + this.sentTo - this.acked));
  }

  /** Ends the transfer from our side (server closing, read error), telling the client with ERROR 0. */
  abort(message: string, reason = message): Step {
    if (this.ended) return this.step(nothing);
    return this.finish({ kind: 'failed', reason }, ErrorCode.notDefined, message);
  }

  /** The absolute block an ACK refers to, or null for a duplicate, stale or never-sent block. */
  private resolve(wire: number): number | null {
    const ahead = (wire - (this.acked & 0xffff)) & 0xffff;
    if (ahead === 0) return null;
    const block = this.acked + ahead;
    return block <= this.sentTo ? block : null;
  }

  /** Sends what the window allows and the queue holds. */
  private pump(now: number): Buffer[] {
    if (this.acked < 0) return [];
    const last = Math.min(this.acked + this.p.windowsize, this.queuedTo());
    if (last <= this.sentTo) return [];
    const at = this.head - this.queueStart;
    const send = this.queue.slice(at + this.sentTo + 1, at + last + 1);
    this.sentTo = last;
    this.deadline = now + this.p.timeoutMs;
    return send;
  }

  /** The next read, keeping a window plus one read's worth of blocks queued ahead of the client. */
  private nextRead(): ReadRequest | null {
    if (this.reading || this.ended) return null;
    const queuedTo = this.queuedTo();
    if (queuedTo >= this.lastBlock) return null;
    if (queuedTo >= Math.max(this.acked, 0) + this.p.windowsize + this.blocksPerRead) return null;
    const first = queuedTo + 1;
    const count = Math.min(this.blocksPerRead, this.lastBlock - queuedTo);
    const position = (first - 1) * this.p.blksize;
    const length = Math.min(this.p.size, (first + count - 1) * this.p.blksize) - position;
    this.reading = { first, count, request: { position, length } };
    return this.reading.request;
  }

  /** Lays `count` DATA packets into one buffer (one allocation per read, none per packet). */
  private enqueue(first: number, count: number, data: Buffer): void {
    const { blksize } = this.p;
    const length = Math.min(data.length, Math.min(this.p.size, (first + count - 1) * blksize) - (first - 1) * blksize);
    const buffer = Buffer.allocUnsafe(count * DATA_HEADER_LENGTH + length);
    for (let i = 0; i < count; i++) {
      const at = i * (blksize + DATA_HEADER_LENGTH);
      const from = i * blksize;
      const size = Math.max(0, Math.min(blksize, length - from));
      writeDataHeader(buffer, at, (first + i) & 0xffff);
      data.copy(buffer, at + DATA_HEADER_LENGTH, from, from + size);
      this.queue.push(buffer.subarray(at, at + DATA_HEADER_LENGTH + size));
    }
  }

  private queuedTo(): number {
    return this.queueStart + this.queue.length - this.head - 1;
  }

  /** Forgets acknowledged blocks: a moving head, compacted now and then (splice per ACK is O(queue)). */
  private drop(through: number): void {
    const n = through - this.queueStart + 1;
    if (n <= 0) return;
    this.head += n;
    this.queueStart += n;
    if (this.head >= 256 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private finish(end: Omit<SessionEnd, 'bytes' | 'retransmits'>, code?: number, message?: string): Step {
    const bytes = Math.min(this.p.size, Math.max(0, this.acked) * this.p.blksize);
    this.ended = { ...end, bytes, retransmits: this.retransmits };
    this.deadline = null;
    this.queue = [];
    this.head = 0;
    this.reading = null;
    const send = code === undefined ? nothing : [encodeTftp({ opcode: Opcode.error, code, message: message ?? '' })];
    return this.step(send);
  }

  private step(send: readonly Buffer[], read: ReadRequest | null = null): Step {
    return { send, read, deadline: this.deadline, end: this.ended };
  }
}
