// Real TFTP clients from Debian packages, run as processes against the server on loopback. A missing
// binary fails the test with the package to install (scripts/install-deps.sh installs them all):
// interop is the point of these tests, so they never skip silently.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export interface ClientBinary {
  readonly path: string;
  readonly debianPackage: string;
}

export const curl: ClientBinary = { path: '/usr/bin/curl', debianPackage: 'curl' };
export const atftp: ClientBinary = { path: '/usr/bin/atftp', debianPackage: 'atftp' };
/** tftp-hpa's client; netkit's `tftp` has other flags, so the path is checked, not just PATH. */
export const tftpHpa: ClientBinary = { path: '/usr/bin/tftp', debianPackage: 'tftp-hpa' };
export const busybox: ClientBinary = { path: '/usr/bin/busybox', debianPackage: 'busybox-static' };

export function requireClient(client: ClientBinary): string {
  try {
    accessSync(client.path, constants.X_OK);
  } catch {
    throw new Error(`${client.path} is missing: install the Debian package ${client.debianPackage} (scripts/install-deps.sh does)`);
  }
  return client.path;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a client to completion (killed after timeoutMs); never throws on a non-zero exit. */
export function runClient(client: ClientBinary, args: readonly string[], timeoutMs = 15_000, cwd?: string): Promise<RunResult> {
  const path = requireClient(client);
  return new Promise((resolve) => {
    execFile(path, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, cwd }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Argument lists that download `name` from 127.0.0.1:port into `out`, per client. */
export const download = {
  curl: (port: number, name: string, out: string, blksize?: number): string[] => [
    '--silent', '--show-error', '--max-time', '30', ...(blksize ? ['--tftp-blksize', String(blksize)] : []),
    '-o', out, `tftp://127.0.0.1:${port}/${name}`,
  ],
  atftp: (port: number, name: string, out: string, options: Record<string, number> = {}): string[] => [
    ...Object.entries(options).flatMap(([k, v]) => ['--option', `${k} ${v}`]),
    '-g', '-r', name, '-l', out, '127.0.0.1', String(port),
  ],
  /** tftp-hpa: `-m binary` is octet mode (its default, netascii, is refused by this server). */
  tftpHpa: (port: number, name: string, out: string): string[] => ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', name, out],
  busybox: (port: number, name: string, out: string, blksize?: number): string[] => [
    'tftp', '-g', '-r', name, '-l', out, ...(blksize ? ['-b', String(blksize)] : []), '127.0.0.1', String(port),
  ],
};
