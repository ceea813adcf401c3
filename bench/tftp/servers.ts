// The TFTP servers bench.ts compares, each started as a process on 127.0.0.1 by this run only and
// stopped by its PID. tftpd-hpa and atftpd must never run as system services here: they are run
// from their binaries, in the foreground, on a high port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface RunningServer {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** CPU seconds used so far by the server and the children it has reaped (tftpd-hpa forks). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const repoRoot = join(import.meta.dirname, '../..');

export function requireBinary(path: string, debianPackage: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing: install the Debian package ${debianPackage}`);
  }
}

/**
 * tftpd-hpa's in.tftpd. Debian's atftpd package also ships /usr/sbin/in.tftpd (a link to atftpd),
 * and the two packages conflict, so tftpd-hpa is unpacked (dpkg -x, not installed: no service, no
 * postinst) from apt's cache, or fetched with `apt-get download`, into the bench's work folder.
 */
export function tftpdHpaBinary(work: string): string {
  const target = join(work, 'tftpd-hpa');
  const binary = join(target, 'usr/sbin/in.tftpd');
  if (existsSync(binary)) return binary;
  const cache = '/var/cache/apt/archives';
  let deb = existsSync(cache) ? readdirSync(cache).find((f) => /^tftpd-hpa_.*\.deb$/.test(f)) : undefined;
  let debPath = deb ? join(cache, deb) : '';
  if (!deb) {
    execFileSync('apt-get', ['download', 'tftpd-hpa'], { cwd: work, stdio: 'ignore' });
    deb = readdirSync(work).find((f) => /^tftpd-hpa_.*\.deb$/.test(f));
    if (!deb) throw new Error('apt-get download tftpd-hpa produced no .deb');
    debPath = join(work, deb);
  }
  execFileSync('dpkg', ['-x', debPath, target]);
  return binary;
}

/**
 * netboot runs as compiled JavaScript, as in production (bin/netboot.js runs dist/), not through
 * vite-node, whose module wrappers cost measurably per call. The output goes under node_modules/.cache
 * so that the compiled files resolve pino from the checkout; the returned cleanup removes it.
 * `entries` are paths from the repository root; `compiled(entry)` is where each one's .js lands.
 */
export function compileBench(name: string, entries: readonly string[]): { compiled: (entry: string) => string; cleanup: () => void } {
  const outDir = join(repoRoot, 'node_modules/.cache', `${name}-${process.pid}`);
  execFileSync(process.execPath, [
    join(repoRoot, 'node_modules/typescript/bin/tsc'), '--outDir', outDir, '--rootDir', repoRoot,
    '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck',
    '--esModuleInterop', ...entries.map((entry) => join(repoRoot, entry)),
  ], { stdio: 'inherit' });
  return {
    compiled: (entry) => join(outDir, entry.replace(/\.ts$/, '.js')),
    cleanup: () => {
      rmSync(outDir, { recursive: true, force: true });
      try {
        rmdirSync(join(repoRoot, 'node_modules/.cache')); // only when empty: it may hold other tools' caches
      } catch {
        // not empty, or gone
      }
    },
  };
}

export function buildNetboot(): { entry: string; floor: string; cleanup: () => void } {
  const { compiled, cleanup } = compileBench('nb-tftp-bench', [
    'bench/tftp/netboot-server.ts', 'bench/tftp/node-floor.ts',
    // Started by path (new Worker), not imported: tsc would not find it from the entry.
    'src/tftp/transfer-worker.ts',
  ]);
  return { entry: compiled('bench/tftp/netboot-server.ts'), floor: compiled('bench/tftp/node-floor.ts'), cleanup };
}

export async function startServer(
  name: string, root: string, port: number, work: string, built?: { entry: string; floor: string },
): Promise<RunningServer> {
  let command: string;
  let args: string[];
  switch (name) {
    case 'netboot':
      command = process.execPath;
      args = [built?.entry ?? fail('netboot was not built'), root, String(port)];
      break;
    case 'node-floor':
      command = process.execPath;
      args = [built?.floor ?? fail('node-floor was not built'), root, String(port)];
      break;
    case 'tftpd-hpa':
      // -L foreground, -s chroot to the root (names are relative to it), -a address:port; forks a
      // child per transfer and drops to user nobody.
      command = tftpdHpaBinary(work);
      args = ['-L', '-s', root, '-a', `127.0.0.1:${port}`];
      break;
    case 'atftpd':
      requireBinary('/usr/sbin/atftpd', 'atftpd');
      // --daemon --no-fork: standalone, in the foreground; a thread per transfer; user nobody.
      command = '/usr/sbin/atftpd';
      args = ['--daemon', '--no-fork', '--port', String(port), '--bind-address', '127.0.0.1', '--logfile', '/dev/null', root];
      break;
    default:
      throw new Error(`unknown server ${name}`);
  }
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: repoRoot });
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  const server: RunningServer = { name, port, pid, cpuSeconds: () => cpuSeconds(pid), stop: () => stopChild(child) };
  try {
    await waitUntilAnswering(port, child, 20_000);
  } catch (err) {
    await server.stop();
    throw new Error(`${name} did not start: ${(err as Error).message}\n${stderr.join('')}`);
  }
  return server;
}

/** Asks for a file that does not exist until an ERROR comes back: the server is taking requests. */
async function waitUntilAnswering(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const rrq = Buffer.from('\0\x01no-such-file-probe\0octet\0', 'latin1');
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      socket.on('message', (bytes) => {
        if (bytes[1] === 5) resolve();
      });
      const tick = (): void => {
        if (child.exitCode !== null) return reject(new Error(`exited with ${child.exitCode}`));
        if (Date.now() > deadline) return reject(new Error(`no answer on port ${port} within ${timeoutMs} ms`));
        socket.send(rrq, port, '127.0.0.1');
        timer = setTimeout(tick, 200);
      };
      let timer = setTimeout(tick, 0);
      socket.once('message', () => clearTimeout(timer));
    });
  } finally {
    socket.close();
  }
}

function fail(message: string): never {
  throw new Error(message);
}

export function cpuSeconds(pid: number): number {
  try {
    // /proc/PID/stat fields 14-17: utime, stime, cutime, cstime, in clock ticks (100 Hz on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100;
  } catch {
    return Number.NaN;
  }
}

/** SIGTERM, then SIGKILL after 3 s; only this PID, which we started. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
