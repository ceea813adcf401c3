// UDP socket plumbing shared by the DHCP and TFTP listeners: promise-returning bind/close/send, and
// bind failures turned into errors that tell the operator what to change.
import type { Socket } from 'node:dgram';
import { ConfigError } from './errors.js';

export function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // never bound, or already closed
    }
  });
}

export function sendTo(socket: Socket, bytes: Uint8Array, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve()));
  });
}

export interface BindSetting {
  /** The config keys that choose the address and the port, e.g. `dhcp.serverAddress`, `dhcp.port`. */
  readonly hostKey: string;
  readonly portKey: string;
  readonly host: string;
  readonly port: number;
  /** Who else commonly holds the port. */
  readonly usualSuspects: string;
}

/** Turns the bind failures an operator can fix into ConfigErrors that say how; others pass through. */
export function explainBindError(err: unknown, setting: BindSetting): unknown {
  const { hostKey, portKey, host, port } = setting;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${hostKey} ${host} is not an address of this host: assign it to the boot interface`, { cause: err });
    case 'EACCES':
      return new ConfigError(`binding UDP port ${port} needs root or CAP_NET_BIND_SERVICE (or set ${portKey} for tests)`, { cause: err });
    case 'EADDRINUSE':
      return new ConfigError(`UDP port ${port} on ${host} is taken: stop the other server (${setting.usualSuspects}) or set ${portKey}`, { cause: err });
    default:
      return err;
  }
}
