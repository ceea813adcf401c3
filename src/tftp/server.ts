// The TFTP listener (STYLE.md §1: with transfer-runner.ts, the I/O of src/tftp). It takes requests on
// the well-known port, lets negotiate.ts decide, opens the file through TftpFiles, and runs each
// transfer from a socket of its own: in a transfer worker (worker-pool.ts) when there are workers and
// the source can move there, else in this thread.
//
// RFC 1350 §4: every transfer gets a new TID (an ephemeral port) on the server side; the well-known
// port only ever receives requests. Refusals (WRQ, unknown mode, missing file, busy) go out from one
// shared ephemeral socket: a TID that is not port 69, as clients expect, without a bind per refusal.
// All sockets bind to `host`, so replies leave from the address the client sent its request to
// (clients drop replies from another address); on a multi-homed host, bind to the boot interface.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import {
  decodeTftp, DecodeError, encodeTftp, ErrorCode, Opcode, type RequestPacket, type TftpPacket,
} from './codec/index.js';
import type { TftpFiles, TftpSource } from './files.js';
import { checkRequest, defaultLimits, negotiate, type TftpLimits } from './negotiate.js';
import type { EndKind, SessionEnd } from './session.js';
import { runTransfer, type TransferHandle } from './transfer-runner.js';
import type { TransferHooks } from './transfer.js';
import { WorkerPool, type WorkerInfo } from './worker-pool.js';
import { gsoUnavailable } from '../udp-gso.js';
import { durationBuckets, noMetrics, type Counter, type Histogram, type Metrics } from '../metrics.js';
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
  /** Transfers started, completed and failed, octets sent (src/metrics.ts); none when absent. */
  readonly metrics?: Metrics;
  readonly options?: Partial<TftpLimits>;
  /** Transfer worker threads (config tftp.workers); default one per core; 0 runs transfers in this thread. */
  readonly workers?: number;
  /** Each worker's file cache bound in octets (config tftp.cacheMiB); 0 turns it off. */
  readonly cacheBytes?: number;
}

export interface TftpServer {
  /** Where the listener is bound (port 0 resolves here). */
  readonly address: { readonly host: string; readonly port: number };
  /** Transfers running or being opened now. */
  readonly activeTransfers: number;
  /** The transfer workers and how many transfers each runs (empty with tftp.workers: 0). */
  readonly workers: readonly WorkerInfo[];
  /** Stops taking requests, ends running transfers (ERROR 0 to their clients), closes every socket. */
  close(): Promise<void>;
}

interface Slot {
  readonly address: string;
  abort?: (message: string) => void;
  /** The last block is out: a new RRQ from this TID is the client's next request, not a repeat. */
  lastBlockSent?: () => boolean;
  /** That next request, handled once this transfer lets go of the TID. */
  next?: { readonly bytes: Buffer; readonly from: RemoteInfo };
}

interface TftpCounters {
  readonly started: Counter<never>;
  readonly completed: Counter<never>;
  readonly failed: Counter<'reason'>;
  readonly bytes: Counter<never>;
  readonly seconds: Histogram<'outcome'>;
}

function tftpCounters(metrics: Metrics): TftpCounters {
  return {
    started: metrics.counter('netboot_tftp_transfers_started_total', 'TFTP transfers started (file opened, first packet on its way)'),
    completed: metrics.counter('netboot_tftp_transfers_completed_total', 'TFTP transfers whose last block the client acknowledged'),
    failed: metrics.counter(
      'netboot_tftp_transfers_failed_total',
      'TFTP requests not served to the end: refused (no transfer started), aborted by the client, tsize-probe (ERROR 8 after the OACK: normal for PXE and OVMF), failed (timeouts and the rest)',
      ['reason'],
    ),
    bytes: metrics.counter('netboot_tftp_bytes_total', 'File octets the clients acknowledged'),
    seconds: metrics.histogram('netboot_tftp_transfer_duration_seconds', 'TFTP transfer times, from request to end', ['outcome'], durationBuckets),
  };
}

/** 128 MiB per worker: a kernel, an initrd and the loaders of one boot stay in memory. */
const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;

export async function startTftpServer(deps: TftpServerDeps): Promise<TftpServer> {
  const limits = checkLimits({ ...defaultLimits, ...deps.options });
  const log = deps.log.child({ subsystem: 'tftp' });
  const counters = tftpCounters(deps.metrics ?? noMetrics);
  const type = isIP(deps.host) === 6 ? 'udp6' : 'udp4';
  const workers = deps.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 0) throw new ConfigError('tftp.workers must be an integer of 0 or more');
  const pool = workers > 0
    ? await WorkerPool.start(workers, { logLevel: log.level, cacheBytes: deps.cacheBytes ?? DEFAULT_CACHE_BYTES }, log)
    : null;
  const listener = createSocket({ type });
  const replies = createSocket({ type });
  try {
    await bindSocket(listener, deps.port, deps.host);
    await bindSocket(replies, 0, deps.host);
  } catch (err) {
    await Promise.all([closeSocket(listener), closeSocket(replies), pool?.close()]);
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
    // Once the last block is out, though, an RRQ is tftp-hpa's next file, sent right after its last
    // ACK: that ACK may still be on its way through a worker, so the request waits for the slot.
    const busy = slots.get(client);
    if (busy?.lastBlockSent?.()) {
      busy.next = { bytes, from };
      clientLog.debug({ name: packet.filename }, 'request held: the transfer to this client port is ending');
      return;
    }
    if (busy) {
      clientLog.debug({ name: packet.filename }, 'repeated request ignored: a transfer to this client port is running');
      return;
    }
    const started = Date.now();
    const name = packet.filename;
    const fail: ServeContext['fail'] = (code, message, reason, level = 'info', countAs = 'refused') => {
      refuse(from, code, message);
      counters.failed.inc({ reason: countAs });
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
      const { next } = slot;
      if (next) queueMicrotask(() => onRequest(next.bytes, next.from));
    };
    const task = serve({ deps, limits, type, pool, packet, from, slot, log: clientLog, isClosing: () => closing, fail, releaseSlot, counters })
      .then((end) => {
        if (!end) return;
        const ms = Date.now() - started;
        const probe = end.kind === 'aborted' && end.clientError?.code === ErrorCode.optionsRefused;
        if (end.kind === 'sent') counters.completed.inc();
        else counters.failed.inc({ reason: probe ? 'tsize-probe' : end.kind });
        counters.bytes.inc({}, end.bytes);
        counters.seconds.observe({ outcome: end.kind }, ms / 1000);
        emit({
          address: from.address, port: from.port, name, kind: end.kind, bytes: end.bytes, ms,
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
  // Windows go out in one sendmsg each when the udp_gso addon is built (udp-gso.ts); say if not.
  const noGso = gsoUnavailable();
  const windows = noGso === undefined ? 'one sendmsg per window (UDP GSO)' : `datagram by datagram: ${noGso}`;
  log.info({ host: bound.address, port: bound.port, ...limits, windows }, 'TFTP server listening');

  return {
    address: { host: bound.address, port: bound.port },
    get activeTransfers() {
      return slots.size;
    },
    get workers() {
      return pool?.workers ?? [];
    },
    async close() {
      closing = true;
      await closeSocket(listener);
      for (const slot of slots.values()) slot.abort?.('server shutting down');
      await Promise.allSettled([...running]);
      await Promise.all([closeSocket(replies), pool?.close()]);
      log.info('TFTP server closed');
    },
  };
}

interface ServeContext {
  readonly deps: TftpServerDeps;
  readonly limits: TftpLimits;
  readonly type: 'udp4' | 'udp6';
  readonly pool: WorkerPool | null;
  readonly packet: RequestPacket;
  readonly from: RemoteInfo;
  readonly slot: Slot;
  readonly log: Logger;
  readonly isClosing: () => boolean;
  /** Refuses the request; counted as refused, or as failed when the transfer had started. */
  readonly fail: (code: number, message: string, reason: string, level?: 'debug' | 'info' | 'warn' | 'error', countAs?: 'refused' | 'failed') => void;
  /**
   * Frees the client's slot as soon as its transfer ends, before the sockets close: tftp-hpa's
   * interactive client sends its next RRQ from the same port right after the last ACK.
   */
  readonly releaseSlot: () => void;
  readonly counters: TftpCounters;
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
  const job = {
    host: deps.host, type: ctx.type, client: { address: from.address, port: from.port }, name: packet.filename,
    params: negotiate(packet.options, source.size, ctx.limits), retries: ctx.limits.retries,
  };
  // A source without a handover (a custom TftpFiles) cannot move to a worker: it runs here.
  const handover = ctx.pool ? source.handover : undefined;
  const hooks: TransferHooks = { onEnd: ctx.releaseSlot };
  ctx.counters.started.inc();
  const handle: TransferHandle = handover ? ctx.pool!.run(job, handover, log, hooks) : runTransfer(job, source, log, hooks);
  ctx.slot.abort = (message) => handle.abort(message);
  ctx.slot.lastBlockSent = handle.lastBlockSent;
  const outcome = await handle.outcome;
  // The worker is done with the file: it is ours to close (runTransfer closes its own source).
  if (handover) await source.close().catch((err: unknown) => log.warn({ err }, 'closing the file failed'));
  if (outcome.kind === 'refused') {
    // Counted as started: its end is a failure, not a refusal.
    ctx.fail(ErrorCode.notDefined, 'server cannot start the transfer', outcome.reason, 'warn', 'failed');
    return null;
  }
  return outcome.end;
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
