// A boot file's body sent with sendfile(2) (native/sendfile.c says why native code) in place of
// send's fs.ReadStream. Everything else about the response stays send's and fastify's: status,
// Content-Length, Content-Range, ETag and the conditional and Range logic (RFC 9110 §13, §14) are
// decided before the body exists; this only moves the octets send chose (its stream's start..end).
//
// The body is a Readable that fastify pipes to the response as it would the ReadStream; it pushes
// nothing while sendfile works and ends when the last octet is in the socket, so the response's
// 'finish'/'close', fastify's hooks and the download event (file-routes.ts follow()) are unchanged.
// sendfile writes past Node's stream, so it is only called while Node holds none of the response's
// octets (the headers): the bytes reach the wire in order. When the socket's send buffer is full
// (EAGAIN), the addon's waiter polls the socket for room, as nginx waits for EPOLLOUT, and sendfile
// resumes from its callback. Without a waiter (the dup it polls could not be made), the next chunk is
// read and written through Node instead, whose write waits for the socket to drain.
import type { ReadStream } from 'node:fs';
import { readSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { Readable } from 'node:stream';
import { loadAddon } from '../native-addon.js';

/** A dup of a socket polled for writability on Node's loop (native/sendfile.c). */
type Waiter = object;

interface SendfileAddon {
  sendFile(socketFd: number, fileFd: number, offset: number, count: number): number;
  /** TCP_CORK on or off: 0, or -errno. */
  setCork(socketFd: number, on: boolean): number;
  openWaiter(socketFd: number): Waiter;
  /** Calls back once, with 0 when the socket can take more, or a negative libuv error (POLLERR). */
  armWaiter(waiter: Waiter, callback: (status: number) => void): void;
  closeWaiter(waiter: Waiter): void;
}

const loaded = loadAddon<SendfileAddon>('sendfile');
const { EAGAIN, ECONNRESET, EPIPE } = constants.errno;

/**
 * A chunk read and written through Node while the socket drains, when there is no waiter (or the
 * headers are still in Node). It only has to make Node wait for the socket (the kernel wakes a
 * writer when a third of its buffer is free, whatever the size), so it is small: one buffer a
 * connection, allocated only if needed, reused, as one chunk at a time is in flight.
 */
const chunkSize = 16 * 1024;
/**
 * At most this much by sendfile before the event loop gets a turn (DHCP, TFTP and the other
 * connections share it): 8 MiB is ~8 ms at the rates bench/http measures.
 */
const octetsPerTurn = 8 * 1024 * 1024;

/**
 * What fs.ReadStream keeps but @types/node does not declare (lib/internal/fs/streams.js): the
 * inclusive range it was made for and, once open, its fd.
 */
type FileStream = ReadStream & { readonly start?: number; readonly end?: number; readonly fd?: number | null };

/** Why sendfile is off in this process, or undefined when the addon is loaded. */
export function sendfileUnavailable(): string | undefined {
  return loaded.why;
}

/**
 * The fd of a plain TCP socket, or undefined: TLS (octets must pass through the cipher), inject()'s
 * fake socket, a socket already closed. Node keeps it on the socket's libuv handle (`_handle.fd`,
 * TCPWrap; -1 once closed). Read afresh before every call, never kept: once Node closes the socket
 * the number may name another file.
 */
function tcpFd(socket: Socket | null): number | undefined {
  if (!socket || socket.destroyed || (socket as { encrypted?: boolean }).encrypted) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The body for send's file stream when sendfile can carry it, or undefined to keep the stream: the
 * addon is not loaded, the connection is not plain TCP, or the length is not send's Content-Length
 * (an empty file, where send's stream asks for one octet).
 */
export function sendfileBody(source: FileStream, res: ServerResponse, contentLength: unknown): SendfileBody | undefined {
  if (!loaded.addon || tcpFd(res.socket) === undefined) return undefined;
  const start = source.start ?? 0;
  const end = source.end;
  const length = Number(contentLength);
  if (end === undefined || !Number.isSafeInteger(length) || length <= 0 || end - start + 1 !== length) return undefined;
  return new SendfileBody(source, res, loaded.addon, start, length);
}

export class SendfileBody extends Readable {
  private offset: number;
  private remaining: number;
  /** Octets handed to the socket by sendfile, and written through Node. */
  private sent = 0;
  private written = 0;
  private started = false;
  /** The chunk buffer: free again when its write's callback runs, before the next chunk is read. */
  private chunk: Buffer | undefined;
  /**
   * Opened at the first full send buffer, closed when the body ends or is destroyed: its dup holds
   * the connection open. null: it could not be opened (chunks through Node then).
   */
  private waiter: Waiter | null | undefined;
  /** TCP_CORK is on: only full segments leave until the body ends (native/sendfile.c says why). */
  private corked = false;

  constructor(private readonly source: FileStream, private readonly res: ServerResponse, private readonly addon: SendfileAddon, start: number, length: number) {
    super();
    this.offset = start;
    this.remaining = length;
  }

  /** Octets handed on to the connection: all of them once complete, an upper bound if aborted. */
  get octets(): number {
    return this.sent + this.written;
  }

  /** Waits for send's stream to open the file: a failure (gone since send's stat) is fastify's error reply. */
  override _construct(callback: (err?: Error | null) => void): void {
    if (typeof this.source.fd === 'number') return callback();
    if (this.source.destroyed) return callback(this.source.errored ?? new Error('send closed the file before its body was sent'));
    const opened = (): void => { this.source.off('error', failed); callback(); };
    const failed = (err: Error): void => { this.source.off('ready', opened); callback(err); };
    this.source.once('ready', opened).once('error', failed);
  }

  /** Asked for data once: from then on the transfer drives itself (pump) and pushes only the end. */
  override _read(): void {
    if (this.started) return;
    this.started = true;
    // Corked first, so that the headers leave in one segment with the file's first octets.
    this.setCork(true);
    // fastify set the headers with setHeader (they go out with the first write): send them now.
    if (!this.res.headersSent) this.res.flushHeaders();
    this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.closeWaiter();
    this.setCork(false);
    this.source.destroy();
    callback(err);
  }

  private pump(): void {
    if (this.destroyed) return;
    const fd = this.source.fd as number;
    let moved = 0;
    while (this.remaining > 0) {
      const socketFd = tcpFd(this.res.socket);
      // The connection is gone: the response's 'close' follows, and fastify destroys this body.
      if (socketFd === undefined) return;
      // Octets of this response still in Node (the headers, the last chunk) go first.
      if (this.res.writableLength > 0) return this.writeChunk(fd);
      const asked = Math.min(this.remaining, octetsPerTurn);
      const n = this.addon.sendFile(socketFd, fd, this.offset, asked);
      if (n === -EAGAIN) return this.waitForRoom(fd, socketFd);
      // The client went away: closed as Node closes it when a write fails so, which fastify logs
      // as a premature close (info), not as a failed body (warn).
      if (n === -EPIPE || n === -ECONNRESET) return void this.res.destroy();
      if (n <= 0) return void this.destroy(n === 0 ? new Error('the file is shorter than send said') : errnoError(-n));
      this.advance(n);
      this.sent += n;
      moved += n;
      // Less than asked of a regular file: the socket's buffer is full, and another call would
      // only say EAGAIN.
      if (n < asked && this.remaining > 0) return this.waitForRoom(fd, socketFd);
      if (moved >= octetsPerTurn && this.remaining > 0) return this.yieldTurn();
    }
    this.closeWaiter();
    // Uncorked, the body's last short segment leaves now, and the connection's next response is
    // not held (a kept-alive connection outlives this body).
    this.setCork(false);
    this.keepAlive();
    this.push(null);
  }

  private advance(n: number): void {
    this.offset += n;
    this.remaining -= n;
  }

  /**
   * Goes on when the socket has room again. The idle timeout still counts: a client that stops
   * reading is closed by it, which destroys this body and its waiter.
   */
  private waitForRoom(fd: number, socketFd: number): void {
    if (this.waiter === undefined) {
      try {
        this.waiter = this.addon.openWaiter(socketFd);
      } catch {
        this.waiter = null;
      }
    }
    if (this.waiter === null) return this.writeChunk(fd);
    this.addon.armWaiter(this.waiter, (status) => {
      // POLLERR: the connection is broken; closed as a failed write would close it.
      if (status < 0) return void this.res.destroy();
      // The client took octets: traffic Node did not see, for the idle timeout.
      this.keepAlive();
      this.pump();
    });
  }

  /** TCP_CORK on the connection, while it is open; a failure only costs segment sizes. */
  private setCork(on: boolean): void {
    if (this.corked === on) return;
    const socketFd = tcpFd(this.res.socket);
    if (socketFd !== undefined && this.addon.setCork(socketFd, on) === 0) this.corked = on;
    else if (!on) this.corked = false;
  }

  private closeWaiter(): void {
    if (this.waiter) this.addon.closeWaiter(this.waiter);
    this.waiter = null;
  }

  /** Lets the loop run, then goes on; the socket's idle timer is refreshed (Node saw no write). */
  private yieldTurn(): void {
    this.keepAlive();
    setImmediate(() => this.pump());
  }

  /**
   * The connection's idle timeout (fastify connectionTimeout, http-listen.ts) counts Node's own
   * reads and writes; octets sent by sendfile are traffic too. setTimeout re-arms it.
   */
  private keepAlive(): void {
    const socket = this.res.socket;
    if (socket && socket.timeout) socket.setTimeout(socket.timeout);
  }

  /**
   * The next chunk written through Node, which waits for the socket to drain; its callback (the
   * chunk is in the kernel) goes on with sendfile. Read synchronously, as sendfile reads: from the
   * page cache it is a copy of 16 KiB, where a read on the thread pool is the round trip this
   * module removes.
   * The chunk is not pushed: pushed octets sit in this stream's buffer while the pipe asks for
   * more, and sendfile would overtake them.
   */
  private writeChunk(fd: number): void {
    this.chunk ??= Buffer.allocUnsafe(chunkSize);
    const buffer = this.chunk;
    let n: number;
    try {
      n = readSync(fd, buffer, 0, Math.min(chunkSize, this.remaining), this.offset);
    } catch (err) {
      return void this.destroy(err as Error);
    }
    if (n === 0) return void this.destroy(new Error('the file is shorter than send said'));
    this.advance(n);
    this.written += n;
    this.res.write(buffer.subarray(0, n), (err) => {
      // An error once the connection is gone is the client leaving (the response's 'close' says so).
      if (err) this.destroy(this.res.destroyed ? undefined : err);
      else this.pump();
    });
  }
}

function errnoError(errno: number): NodeJS.ErrnoException {
  const code = Object.entries(constants.errno).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`sendfile: ${code}`), { code, errno });
}
