// Raw HTTP clients for the boot side's file routes on a real listener (test/http-boot).
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';

/** A GET on its own connection, closed by the client once it has read `octets` (headers included). */
export function getThenLeave(port: number, path: string, octets: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < octets) return;
      socket.destroy();
      resolve();
    });
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
  });
}

/** This process's open file descriptors. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
