// Carries out one ReadSession's Steps: sends through an injected link (server.ts owns the socket),
// reads the TftpSource by offset, and keeps one timer for the session's deadline. Everything a
// transfer decides stays in session.ts; this file only does what a Step says.
import type { Buffer } from 'node:buffer';
import type { Logger } from 'pino';
import { ackBlock, decodeTftp, DecodeError, Opcode, opcodeName } from './codec/index.js';
import type { TftpSource } from './files.js';
import type { ReadSession, SessionEnd, Step } from './session.js';

/** Where a transfer's datagrams go: the client's TID, from this transfer's own socket. */
export interface TransferLink {
  /** The datagrams of one step, in order: a window (RFC 7440) is sent together. */
  send(datagrams: readonly Buffer[]): void;
}

export interface TransferHooks {
  /** At once when the session ends, before the source is closed (`finished` waits for that). */
  readonly onEnd?: (end: SessionEnd) => void;
  /** Once, just before the last block is first sent. */
  readonly onLastBlockSent?: () => void;
}

export class Transfer {
  /** Resolves once, when the session has ended and the source is closed. */
  readonly finished: Promise<SessionEnd>;
  private resolveFinished!: (end: SessionEnd) => void;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires; it may fire early (deadline moved later), then it re-arms. */
  private timerAt = 0;
  private deadline: number | null = null;
  private closed = false;
  private lastBlockSent = false;

  constructor(
    private readonly session: ReadSession,
    private readonly source: TftpSource,
    private readonly link: TransferLink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly hooks: TransferHooks = {},
  ) {
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  start(): void {
    this.apply(this.session.start(this.now()));
  }

  /** A datagram from the client's TID (the caller has checked address and port). */
  onDatagram(bytes: Buffer): void {
    // ACKs are nearly all the traffic: read the block number without decoding into an object.
    const block = ackBlock(bytes);
    if (block >= 0) {
      this.apply(this.session.onAck(block, this.now()));
      return;
    }
    let packet;
    try {
      packet = decodeTftp(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.log.debug({ err, length: bytes.length }, 'malformed TFTP packet from the client ignored');
      return;
    }
    if (packet.opcode === Opcode.error) this.apply(this.session.onError(packet.code, packet.message));
    else this.apply(this.session.onIllegal(opcodeName(packet.opcode)));
  }

  /** Ends the transfer from our side; the client gets ERROR 0 with `message`. */
  abort(message: string, reason = message): void {
    this.apply(this.session.abort(message, reason));
  }

  private apply(step: Step): void {
    if (this.closed) return;
    // Before the send: whoever watches must know before the client can react to the block.
    if (!this.lastBlockSent && this.session.lastBlockSent) {
      this.lastBlockSent = true;
      this.hooks.onLastBlockSent?.();
    }
    if (step.send.length > 0) this.link.send(step.send);
    if (step.end) {
      this.close(step.end);
      return;
    }
    if (step.read) this.read(step.read.position, step.read.length);
    this.schedule(step.deadline);
  }

  private read(position: number, length: number): void {
    this.source.read(position, length).then(
      (data) => this.apply(this.session.onRead(position, data, this.now())),
      (err: unknown) => {
        this.log.error({ err, position, length }, 'reading the file failed');
        this.apply(this.session.abort('cannot read the file', `read failed at ${position}: ${String(err)}`));
      },
    );
  }

  private schedule(deadline: number | null): void {
    this.deadline = deadline;
    // Progress only moves the deadline later, so one timer serves many packets: it fires, finds the
    // deadline moved, and re-arms (setTimeout per ACK costs more than the ACK itself).
    if (deadline === null || (this.timer && this.timerAt <= deadline)) return;
    this.arm(deadline);
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - this.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.closed || this.deadline === null) return;
    const now = this.now();
    if (now < this.deadline) {
      this.arm(this.deadline);
      return;
    }
    this.apply(this.session.onTimeout(now));
  };

  private close(end: SessionEnd): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.hooks.onEnd?.(end);
    this.source.close().catch((err: unknown) => this.log.warn({ err }, 'closing the file failed'))
      .finally(() => this.resolveFinished(end));
  }
}
