// One transfer's I/O: its own port, the stranger check, and the Transfer that carries out the
// ReadSession. The same code runs in the main thread (tftp.workers: 0, or a source that cannot move
// to a worker) and in transfer-worker.ts; server.ts decides where (STYLE.md §1: session.ts stays pure).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { encodeTftp, ErrorCode, Opcode } from './codec/index.js';
import type { TftpSource } from './files.js';
import type { TransferParameters } from './negotiate.js';
import { ReadSession, type SessionEnd } from './session.js';
import { Transfer, type TransferHooks } from './transfer.js';
import { bindSocket, closeSocket } from '../udp.js';
import { SegmentSender } from '../udp-gso.js';

/** Everything a transfer needs once the request is accepted and the file is open. */
export interface TransferJob {
  readonly host: string;
  readonly type: 'udp4' | 'udp6';
  readonly client: { readonly address: string; readonly port: number };
  readonly name: string;
  readonly params: TransferParameters;
  readonly retries: number;
}

/** ended: the session ran (however it ended); refused: no socket could be opened, nothing was sent. */
export type TransferOutcome = { readonly kind: 'ended'; readonly end: SessionEnd } | { readonly kind: 'refused'; readonly reason: string };

export interface TransferHandle {
  /** Ends the transfer with ERROR 0 `message` to the client (also before its socket is open). */
  abort(message: string): void;
  /** Resolves once the sockets are closed. */
  readonly outcome: Promise<TransferOutcome>;
  /** True from just before the last block first goes out: the client may finish any moment. */
  lastBlockSent(): boolean;
}

/**
 * Runs one transfer. `hooks.onEnd` is called as soon as the session ends, before the sockets close:
 * tftp-hpa's interactive client sends its next RRQ from the same port right after the last ACK.
 * The source is closed (TftpSource.close) before `outcome` resolves.
 */
export function runTransfer(job: TransferJob, source: TftpSource, log: Logger, hooks: TransferHooks): TransferHandle {
  let aborted: string | null = null;
  let transfer: Transfer | null = null;
  let lastBlockSent = false;
  const outcome = (async (): Promise<TransferOutcome> => {
    let sockets: TransferSockets;
    try {
      sockets = await openTransferSockets(job.type, job.host, job.client);
    } catch (err) {
      await source.close().catch(() => undefined);
      return { kind: 'refused', reason: String(err) };
    }
    const { socket, strangers } = sockets;
    const { params } = job;
    const session = new ReadSession({ size: source.size, retries: job.retries, ...params });
    // A window goes out in one sendmsg(2) with UDP_SEGMENT where it can (udp-gso.ts).
    const link = new SegmentSender(socket, (why) => log.warn({ name: job.name }, why));
    const current = new Transfer(session, source, link, log, Date.now, {
      ...hooks,
      onLastBlockSent: () => {
        lastBlockSent = true;
        hooks.onLastBlockSent?.();
      },
    });
    transfer = current;
    const onStranger = strangerHandler(strangers, log);
    // The check matters only for what a stranger managed to queue before connect() took effect.
    socket.on('message', (bytes, peer) => {
      if (peer.port === job.client.port && peer.address === job.client.address) current.onDatagram(bytes);
      else onStranger(bytes, peer);
    });
    strangers.on('message', onStranger);
    for (const s of [socket, strangers]) s.on('error', (err) => current.abort('server socket error', `socket error: ${err.message}`));
    log.debug({ name: job.name, size: source.size, ...params }, 'RRQ: transfer starting');
    const started = Date.now();
    current.start();
    if (aborted !== null) current.abort(aborted); // abort() ran while the socket was binding
    const end = await current.finished;
    await Promise.all([closeSocket(socket), closeSocket(strangers)]);
    logEnd(log, job.name, end, Date.now() - started, params);
    return { kind: 'ended', end };
  })();
  return {
    outcome,
    lastBlockSent: () => lastBlockSent,
    abort(message) {
      aborted ??= message;
      transfer?.abort(message);
    },
  };
}

/**
 * RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer. An ERROR
 * is never answered with an ERROR (two confused peers would loop), and only what looks like TFTP
 * gets an answer, so the port does not echo arbitrary datagrams.
 */
function strangerHandler(strangers: Socket, log: Logger): (bytes: Buffer, peer: RemoteInfo) => void {
  const unknownTid = encodeTftp({ opcode: Opcode.error, code: ErrorCode.unknownTransferId, message: 'unknown transfer ID' });
  return (bytes, peer) => {
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1]! >= Opcode.rrq && bytes[1]! <= Opcode.oack && bytes[1] !== Opcode.error) {
      strangers.send(unknownTid, peer.port, peer.address);
    }
    log.debug({ stranger: `${peer.address}:${peer.port}` }, 'packet from an unknown transfer ID');
  };
}

function logEnd(log: Logger, name: string, end: SessionEnd, ms: number, params: { blksize: number; windowsize: number }): void {
  const fields = { name, bytes: end.bytes, ms, retransmits: end.retransmits, blksize: params.blksize, windowsize: params.windowsize };
  if (end.kind === 'sent') log.info(fields, 'TFTP file sent');
  // FACTS.md: OVMF and other PXE firmware ask for tsize, then end with ERROR 8 on purpose.
  else if (end.clientError?.code === ErrorCode.optionsRefused) log.debug({ ...fields, reason: end.reason }, 'client ended the transfer after the OACK (a tsize probe)');
  else if (end.kind === 'aborted') log.info({ ...fields, reason: end.reason }, 'client aborted the TFTP transfer');
  else log.warn({ ...fields, reason: end.reason }, 'TFTP transfer failed');
}

interface TransferSockets {
  /** Connected to the client's TID: the kernel hands it only the client's packets. */
  readonly socket: Socket;
  /** Unconnected, on the same port: receives what other TIDs send there. */
  readonly strangers: Socket;
}

/**
 * A transfer's own port (its TID, RFC 1350 §4) as two sockets sharing it (SO_REUSEADDR): one
 * connected to the client, one not. Linux delivers a datagram to the best-matching socket, so the
 * client's packets reach the connected one and anything else the other, which answers ERROR 5.
 * Connecting is worth it: send() on a connected socket skips dgram's address lookup and the
 * kernel's route lookup per packet (5-20% more throughput in bench/tftp, most with windowsize).
 * With SO_REUSEADDR the kernel may give two transfers the same port; each
 * client's packets still reach its own connected socket, so nothing is mixed up.
 */
async function openTransferSockets(type: 'udp4' | 'udp6', host: string, client: TransferJob['client']): Promise<TransferSockets> {
  const socket = createSocket({ type, reuseAddr: true });
  const strangers = createSocket({ type, reuseAddr: true });
  try {
    await bindSocket(socket, 0, host);
    await bindSocket(strangers, socket.address().port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(client.port, client.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return { socket, strangers };
  } catch (err) {
    await Promise.all([closeSocket(socket), closeSocket(strangers)]);
    throw err;
  }
}
