// A minimal QMP client (QEMU docs/interop/qmp-spec.rst): newline-delimited JSON over a unix socket.
// QEMU greets with {"QMP": ...}; the client sends qmp_capabilities, then commands, each answered by
// {"return"} or {"error"} carrying the command's id; {"event"} messages may arrive at any point in
// between, including before the answer to the command that caused them. One short-lived session per
// power action, under one deadline: QEMU serves one QMP client at a time, so a session must not
// linger.
import { createConnection, type Socket } from 'node:net';
import { PowerError } from '../errors.js';

export interface QmpEvent {
  readonly event: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

type Message = Readonly<Record<string, unknown>>;

/** sun_path holds 108 bytes including the terminating NUL (unix(7)). */
export const maxSocketPathBytes = 107;

/** Opens a session on `socket`, runs `work`, and closes the session, all within `timeoutMs`. */
export async function withQmp<T>(socket: string, timeoutMs: number, work: (qmp: QmpSession) => Promise<T>): Promise<T> {
  const qmp = new QmpSession(socket, timeoutMs);
  try {
    await qmp.handshake();
    return await work(qmp);
  } finally {
    qmp.close();
  }
}

export class QmpSession {
  private readonly socket: Socket;
  private readonly timer: NodeJS.Timeout;
  private readonly replies: Message[] = [];
  private readonly received: QmpEvent[] = [];
  private wake: Array<() => void> = [];
  private failure: PowerError | undefined;
  private closed = false;
  private buffer = '';
  private nextId = 1;
  /** What the session is doing, for timeout and disconnect messages. */
  private step = 'connecting';

  constructor(private readonly path: string, timeoutMs: number) {
    if (Buffer.byteLength(path) > maxSocketPathBytes) {
      throw new PowerError(`QMP socket path ${path} is longer than ${maxSocketPathBytes} bytes, the limit of a unix socket address: use a shorter path`);
    }
    this.timer = setTimeout(() => this.fail(new PowerError(
      `QEMU did not answer on QMP socket ${path} within ${timeoutMs / 1000} s (while ${this.step}): the VM process may be hung, ` +
      'or another client holds its QMP monitor (QEMU serves one client at a time)')), timeoutMs);
    this.socket = createConnection({ path });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => this.onData(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.fail(connectError(path, error)));
    this.socket.on('close', () => this.fail(new PowerError(
      `QEMU closed the QMP connection on ${path} while ${this.step}: the VM process has probably exited`)));
  }

  /** Number of events received so far: a mark for waitForEvent. */
  get eventCount(): number {
    return this.received.length;
  }

  async handshake(): Promise<void> {
    this.step = 'waiting for the QMP greeting';
    const greeting = await this.nextReply();
    if (!('QMP' in greeting)) {
      throw this.fail(new PowerError(`${this.path} is not a QMP socket: the first message was not QEMU's greeting (${JSON.stringify(greeting).slice(0, 200)})`));
    }
    await this.execute('qmp_capabilities');
  }

  /** Runs one command; resolves with its `return` value, or throws PowerError with QEMU's reason. */
  async execute(command: string, args?: Readonly<Record<string, unknown>>): Promise<unknown> {
    const id = this.nextId++;
    this.step = `running ${command}`;
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    for (;;) {
      const reply = await this.nextReply();
      if (reply.id !== id) continue; // not ours (nothing else is in flight; be lenient)
      if ('error' in reply) {
        const error = reply.error as { class?: string; desc?: string } | undefined;
        throw new PowerError(`QEMU refused ${command} on ${this.path}: ${error?.desc ?? 'no reason given'} (${error?.class ?? 'unknown class'})`);
      }
      return reply.return;
    }
  }

  /** The first event at index >= `since` that matches; waits for it (within the session deadline). */
  async waitForEvent(since: number, matches: (event: QmpEvent) => boolean, what: string): Promise<QmpEvent> {
    this.step = `waiting for ${what}`;
    for (let index = since; ; index++) {
      while (index >= this.received.length) await this.changed();
      const event = this.received[index]!;
      if (matches(event)) return event;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private async nextReply(): Promise<Message> {
    for (;;) {
      const reply = this.replies.shift();
      if (reply) return reply;
      await this.changed();
    }
  }

  /** Resolves at the next message; rejects once the session has failed. */
  private changed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.wake.push(() => (this.failure ? reject(this.failure) : resolve()));
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const fn of wake) fn();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line === '') continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch (cause) {
        this.fail(new PowerError(`${this.path} sent something that is not QMP JSON while ${this.step}: ${line.slice(0, 200)}`, { cause }));
        return;
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) continue;
      if (typeof (message as Message).event === 'string') this.received.push(message as QmpEvent);
      else this.replies.push(message as Message);
    }
    this.notify();
  }

  /** Records the first failure, ends the connection and wakes every waiter; returns the failure. */
  private fail(error: PowerError): PowerError {
    if (this.closed) return error;
    this.failure ??= error;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.notify();
    return this.failure;
  }
}

function connectError(path: string, error: NodeJS.ErrnoException): PowerError {
  const options = { cause: error };
  switch (error.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new PowerError(`QMP socket ${path} does not exist: the VM is not running, or its QEMU was started without ` +
        `-qmp unix:${path},server=on,wait=off`, options);
    case 'ECONNREFUSED':
      return new PowerError(`nothing listens on QMP socket ${path}: the QEMU process that made it has exited (a stale socket file); ` +
        'start the VM again', options);
    case 'EACCES':
    case 'EPERM':
      return new PowerError(`no permission to open QMP socket ${path}: run netboot as the user that owns it, or change its mode`, options);
    default:
      return new PowerError(`cannot talk to QEMU on QMP socket ${path}: ${error.message}`, options);
  }
}
