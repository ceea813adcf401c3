// A hand-driven TFTP client endpoint on loopback: sends crafted packets, queues what comes back with
// the sender's port (the server's TID). For sequences no real client produces on demand (the OVMF
// tsize probe, a stranger TID, duplicate requests).
import { Buffer } from 'node:buffer';
import { createSocket, type Socket } from 'node:dgram';
import { decodeTftp, encodeTftp, type TftpPacket } from '../../../src/tftp/codec/index.js';

export interface Received {
  readonly packet: TftpPacket;
  readonly bytes: Buffer;
  /** The server's TID: the port this datagram came from. */
  readonly port: number;
}

export class TftpPeer {
  private readonly queue: Received[] = [];
  private readonly waiters: ((r: Received) => void)[] = [];

  private constructor(private readonly socket: Socket) {}

  static async open(address = '127.0.0.1'): Promise<TftpPeer> {
    const socket = createSocket('udp4');
    const peer = new TftpPeer(socket);
    socket.on('message', (bytes, from) => {
      const received = { packet: decodeTftp(bytes), bytes, port: from.port };
      const waiter = peer.waiters.shift();
      if (waiter) waiter(received);
      else peer.queue.push(received);
    });
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(packet: TftpPacket | Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    const bytes = Buffer.isBuffer(packet) ? packet : encodeTftp(packet);
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  next(timeoutMs = 3000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (r: Received): void => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no TFTP packet within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Everything that arrives within `ms` (empty when the server stays silent). */
  async drain(ms: number): Promise<Received[]> {
    const got: Received[] = [];
    for (;;) {
      try {
        got.push(await this.next(ms));
      } catch {
        return got;
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
