// The TFTP listener: the only file of src/tftp that touches sockets (STYLE.md §1). It takes
// requests on the well-known port, lets negotiate.ts decide, opens the file through TftpFiles, and
// runs each transfer from a socket of its own.
//
// RFC 1350 §4: every transfer gets a new TID (an ephemeral port) on the server side; the well-known
// port only ever receives requests. Refusals (WRQ, unknown mode, missing file, busy) go out from one
// shared ephemeral socket: a TID that is not port 69, as clients expect, without a bind per refusal.
// All sockets bind to `host`, so replies leave from the address the client sent its request to
// (clients drop replies from another address); on a multi-homed host, bind to the boot interface.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import {
  decodeTftp, DecodeError, encodeTftp, ErrorCode, Opcode, type RequestPacket, type TftpPacket,
} from './codec/index.js';
import type { TftpFiles, TftpSource } from './files.js';
import { checkRequest, defaultLimits, negotiate, type TftpLimits } from './negotiate.js';
import { ReadSession, type EndKind, type SessionEnd } from './session.js';
import { Transfer } from './transfer.js';
import { bindSocket, closeSocket, explainBindError } from '../udp.js';

export interface TftpTransferEvent {
  readonly address: string;
  readonly port: number;
  readonly name: string;
  /** sent: the client acknowledged the last block; aborted: the client sent ERROR; failed: anything else. */
  readonly kind: EndKind;
  /** File octets the client acknowledged. */
  readonly bytes: number;
  readonly ms: number;
  readonly reason: string;
  /** The code of the client's ERROR when kind is aborted: 8 after a tsize probe is normal (FACTS.md). */
  readonly clientErrorCode?: number;
}

export interface TftpServerDeps {
  readonly host: string;
  /** 69 in production; tests use a high port. */
  readonly port: number;
  readonly files: TftpFiles;
  readonly log: Logger;
  /** Called once per request that named a file, however it ended (for the machine's timeline). */
  readonly events?: (event: TftpTransferEvent) => void;
  readonly options?: Partial<TftpLimits>;
}

export interface TftpServer {
  /** Where the listener is bound (port 0 resolves here). */
  readonly address: { readonly host: string; readonly port: number };
  /** Transfers running or being opened now. */
  readonly activeTransfers: number;
  /** Stops taking requests, ends running transfers (ERROR 0 to their clients), closes every socket. */
  close(): Promise<void>;
}

interface Slot {
  readonly address: string;
  abort?: (message: string) => void;
}

export async function startTftpServer(deps: TftpServerDeps): Promise<TftpServer> {
  const limits = checkLimits({ ...defaultLimits, ...deps.options });
  const log = deps.log.child({ subsystem: 'tftp' });
  const type = isIP(deps.host) === 6 ? 'udp6' : 'udp4';
  const listener = newSocket(type);
  const replies = newSocket(type);
  try {
    await bindSocket(listener, deps.port, deps.host);
    await bindSocket(replies, 0, deps.host);
  } catch (err) {
    await Promise.all([closeSocket(listener), closeSocket(replies)]);
    throw explainBindError(err, {
      hostKey: 'tftp.host', portKey: 'tftp.port', host: deps.host, port: deps.port, usualSuspects: 'tftpd-hpa, atftpd, dnsmasq',
    });
  }

  const slots = new Map<string, Slot>(); // by client "address:port" (its TID)
  const perAddress = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let closing = false;

  const release = (key: string, slot: Slot): void => {
    slots.delete(key);
    const n = (perAddress.get(slot.address) ?? 1) - 1;
    if (n > 0) perAddress.set(slot.address, n);
    else perAddress.delete(slot.address);
  };
  const refuse = (to: RemoteInfo, code: number, message: string): void => {
    replies.send(encodeTftp({ opcode: Opcode.error, code, message }), to.port, to.address);
  };
  const emit = (event: TftpTransferEvent, clientLog: Logger): void => {
    try {
      deps.events?.(event);
    } catch (err) {
      clientLog.error({ err }, 'recording the TFTP event failed');
    }
  };

  const onRequest = (bytes: Buffer, from: RemoteInfo): void => {
    if (closing) return;
    const client = `${from.address}:${from.port}`;
    const clientLog = log.child({ client });
    let packet: TftpPacket;
    try {
      packet = decodeTftp(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      clientLog.debug({ err, length: bytes.length }, 'malformed TFTP packet ignored');
      // Only a request deserves an answer here: the client is waiting for one.
      if (bytes[0] === 0 && (bytes[1] === Opcode.rrq || bytes[1] === Opcode.wrq)) refuse(from, ErrorCode.illegalOperation, 'malformed request');
      return;
    }
    if (packet.opcode !== Opcode.rrq && packet.opcode !== Opcode.wrq) {
      clientLog.debug({ opcode: packet.opcode }, 'non-request packet on the TFTP port ignored');
      return;
    }
    // A client repeats its RRQ when our first answer is slow or lost; the running transfer answers
    // it (its own retransmission), a second transfer to the same TID would only confuse the client.
    if (slots.has(client)) {
      clientLog.debug({ name: packet.filename }, 'repeated request ignored: a transfer to this client port is running');
      return;
    }
    const started = Date.now();
    const name = packet.filename;
    const fail = (code: number, message: string, reason: string, level: 'debug' | 'info' | 'warn' | 'error' = 'info'): void => {
      refuse(from, code, message);
      clientLog[level]({ name, code }, `TFTP request refused: ${reason}`);
      emit({ address: from.address, port: from.port, name, kind: 'failed', bytes: 0, ms: Date.now() - started, reason }, clientLog);
    };
    const check = checkRequest(packet);
    if (check.kind === 'refuse') return fail(check.code, check.message, check.reason);
    if (slots.size >= limits.maxTransfers) {
      return fail(ErrorCode.notDefined, 'server busy: too many transfers, try again', `${limits.maxTransfers} transfers running (tftp.maxTransfers)`, 'warn');
    }
    if ((perAddress.get(from.address) ?? 0) >= limits.maxPerClient) {
      return fail(ErrorCode.notDefined, 'too many transfers from this client', `${limits.maxPerClient} transfers from ${from.address} running (tftp.maxPerClient)`, 'warn');
    }
    const slot: Slot = { address: from.address };
    slots.set(client, slot);
    perAddress.set(from.address, (perAddress.get(from.address) ?? 0) + 1);
    let released = false;
    const releaseSlot = (): void => {
      if (released) return;
      released = true;
      release(client, slot);
    };
    const task = serve({ deps, limits, type, packet, from, slot, log: clientLog, isClosing: () => closing, fail, releaseSlot })
      .then((end) => {
        if (!end) return;
        emit({
          address: from.address, port: from.port, name, kind: end.kind, bytes: end.bytes, ms: Date.now() - started,
          reason: end.reason, ...(end.clientError ? { clientErrorCode: end.clientError.code } : {}),
        }, clientLog);
      })
      .catch((err: unknown) => clientLog.error({ err, name }, 'TFTP transfer failed unexpectedly'))
      .finally(() => {
        releaseSlot();
        running.delete(task);
      });
    running.add(task);
  };
  listener.on('message', onRequest);
  listener.on('error', (err) => log.error({ err }, 'TFTP socket error'));
  replies.on('error', (err) => log.error({ err }, 'TFTP reply socket error'));
  const bound = listener.address();
  log.info({ host: bound.address, port: bound.port, ...limits }, 'TFTP server listening');

  return {
    address: { host: bound.address, port: bound.port },
    get activeTransfers() {
      return slots.size;
    },
    async close() {
      closing = true;
      await closeSocket(listener);
      for (const slot of slots.values()) slot.abort?.('server shutting down');
      await Promise.allSettled([...running]);
      await closeSocket(replies);
      log.info('TFTP server closed');
    },
  };
}

interface ServeContext {
  readonly deps: TftpServerDeps;
  readonly limits: TftpLimits;
  readonly type: 'udp4' | 'udp6';
  readonly packet: RequestPacket;
  readonly from: RemoteInfo;
  readonly slot: Slot;
  readonly log: Logger;
  readonly isClosing: () => boolean;
  readonly fail: (code: number, message: string, reason: string, level?: 'debug' | 'info' | 'warn' | 'error') => void;
  /**
   * Frees the client's slot as soon as its transfer ends, before the sockets close: tftp-hpa's
   * interactive client sends its next RRQ from the same port right after the last ACK.
   */
  readonly releaseSlot: () => void;
}

/** Opens the file and runs the transfer; resolves with how it ended, or null when already refused. */
async function serve(ctx: ServeContext): Promise<SessionEnd | null> {
  const { deps, packet, from, log } = ctx;
  let source: TftpSource | null;
  try {
    source = await deps.files.open(packet.filename, { address: from.address, port: from.port });
  } catch (err) {
    const denied = ['EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '');
    log.error({ err, name: packet.filename }, 'opening the file failed');
    ctx.fail(denied ? ErrorCode.accessViolation : ErrorCode.notDefined, denied ? 'access denied' : 'cannot open the file', `open failed: ${String(err)}`, 'debug');
    return null;
  }
  if (!source) {
    ctx.fail(ErrorCode.fileNotFound, 'File not found', 'file not found');
    return null;
  }
  if (ctx.isClosing()) {
    await source.close().catch(() => undefined);
    ctx.fail(ErrorCode.notDefined, 'server shutting down', 'server shutting down', 'debug');
    return null;
  }
  let sockets: TransferSockets;
  try {
    sockets = await openTransferSockets(ctx.type, deps.host, from);
  } catch (err) {
    await source.close().catch(() => undefined);
    ctx.fail(ErrorCode.notDefined, 'server cannot start the transfer', String(err), 'warn');
    return null;
  }
  const { socket, strangers } = sockets;
  const params = negotiate(packet.options, source.size, ctx.limits);
  const session = new ReadSession({ size: source.size, retries: ctx.limits.retries, ...params });
  const transfer = new Transfer(session, source, { send: (d) => socket.send(d) }, log, Date.now, ctx.releaseSlot);
  // RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer. An
  // ERROR is never answered with an ERROR (two confused peers would loop).
  const unknownTid = encodeTftp({ opcode: Opcode.error, code: ErrorCode.unknownTransferId, message: 'unknown transfer ID' });
  const onStranger = (bytes: Buffer, peer: RemoteInfo): void => {
    // Only what looks like TFTP gets an answer, so the port does not echo arbitrary datagrams.
    if (bytes.length >= 4 && bytes[0] === 0 && bytes[1]! >= Opcode.rrq && bytes[1]! <= Opcode.oack && bytes[1] !== Opcode.error) {
      strangers.send(unknownTid, peer.port, peer.address);
    }
    log.debug({ stranger: `${peer.address}:${peer.port}` }, 'packet from an unknown transfer ID');
  };
  // The check matters only for what a stranger managed to queue before connect() took effect.
  socket.on('message', (bytes, peer) => {
    if (peer.port === from.port && peer.address === from.address) transfer.onDatagram(bytes);
    else onStranger(bytes, peer);
  });
  strangers.on('message', onStranger);
  for (const s of [socket, strangers]) s.on('error', (err) => transfer.abort('server socket error', `socket error: ${err.message}`));
  ctx.slot.abort = (message) => transfer.abort(message);
  log.debug({ name: packet.filename, size: source.size, ...params }, 'RRQ: transfer starting');
  const started = Date.now();
  transfer.start();
  if (ctx.isClosing()) transfer.abort('server shutting down'); // close() ran while the socket was binding
  const end = await transfer.finished;
  await Promise.all([closeSocket(socket), closeSocket(strangers)]);
  logEnd(log, packet.filename, end, Date.now() - started, params);
  return end;
}

function logEnd(log: Logger, name: string, end: SessionEnd, ms: number, params: { blksize: number; windowsize: number }): void {
  const fields = { name, bytes: end.bytes, ms, retransmits: end.retransmits, blksize: params.blksize, windowsize: params.windowsize };
  if (end.kind === 'sent') log.info(fields, 'TFTP file sent');
  // FACTS.md: OVMF and other PXE firmware ask for tsize, then end with ERROR 8 on purpose.
  else if (end.clientError?.code === ErrorCode.optionsRefused) log.debug({ ...fields, reason: end.reason }, 'client ended the transfer after the OACK (a tsize probe)');
  else if (end.kind === 'aborted') log.info({ ...fields, reason: end.reason }, 'client aborted the TFTP transfer');
  else log.warn({ ...fields, reason: end.reason }, 'TFTP transfer failed');
}

function checkLimits(limits: TftpLimits): TftpLimits {
  const bad = (field: keyof TftpLimits, min: number, max: number) =>
    !Number.isInteger(limits[field]) || limits[field] < min || limits[field] > max ? `tftp.${field} must be an integer in ${min}..${max}` : null;
  const problems = [
    bad('mtu', 68, 65535), bad('maxWindow', 1, 65535), bad('timeoutMs', 1, 255_000), bad('retries', 0, 100),
    bad('maxTransfers', 1, 100_000), bad('maxPerClient', 1, 100_000),
  ].filter((p) => p !== null);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return Object.freeze({ ...limits });
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
async function openTransferSockets(type: 'udp4' | 'udp6', host: string, client: RemoteInfo): Promise<TransferSockets> {
  const socket = newSocket(type, true);
  const strangers = newSocket(type, true);
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

function newSocket(type: 'udp4' | 'udp6', reuseAddr = false): Socket {
  return createSocket({ type, reuseAddr });
}
