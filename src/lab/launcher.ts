// Starts real processes (the appliance, QEMU) and waits for markers in their output, raced against
// an early exit, with named timeouts; stops them by PID only (after nats.js nst/launcher.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { LabError } from '../errors.js';

export interface LaunchOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Every output line is appended here (the serial console of a VM, the appliance's log). */
  readonly logFile: string;
  readonly onLine?: (line: string) => void;
}

export interface ExitStatus { readonly code: number | null; readonly signal: NodeJS.Signals | null }

const keptLines = 400;

export class Launched {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  private readonly recent: string[] = [];
  private readonly waiters = new Set<(line: string) => void>();
  private exitStatus: ExitStatus | null = null;
  private readonly log: WriteStream;

  private constructor(private readonly child: ChildProcess, private readonly options: LaunchOptions) {
    if (child.pid === undefined) throw new LabError(`${options.name}: could not start ${options.command}`);
    this.pid = child.pid;
    this.log = createWriteStream(options.logFile, { flags: 'a' });
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    // 'close', not 'exit': output still buffered in the pipes is read after 'exit' (a line after the
    // log was ended was a "write after end" thrown out of the test run).
    child.once('close', () => this.log.end());
  }

  static start(options: LaunchOptions): Promise<Launched> {
    const child = spawn(options.command, [...options.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      child.once('error', (cause) => reject(new LabError(`${options.name}: cannot run ${options.command}: ${cause.message}`, { cause })));
      child.once('spawn', () => resolve(new Launched(child, options)));
    });
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 30): string {
    return this.recent.slice(-lines).join('\n');
  }

  /**
   * Resolves with the first line matching `marker` (already seen, unless `onlyNew`: a line printed
   * from now on, e.g. the same message of a later boot); rejects on exit or timeout.
   */
  waitFor(marker: RegExp, timeoutMs: number, what: string, onlyNew = false): Promise<string> {
    const seen = onlyNew ? undefined : this.recent.find((line) => marker.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(onLine);
      };
      const onLine = (line: string) => {
        if (marker.test(line)) {
          done();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new LabError(`${this.options.name}: timed out after ${timeoutMs / 1000} s waiting for ${what}; last output:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(onLine);
      this.exited.then((status) => {
        if (!this.waiters.has(onLine)) return;
        done();
        reject(new LabError(`${this.options.name} exited (${status.signal ?? status.code}) before ${what}; last output:\n${this.tail()}`));
      }).catch(() => undefined);
    });
  }

  /** SIGTERM, then SIGKILL after graceMs; only this PID, which we started. */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  private onLine(line: string): void {
    // Serial consoles emit ANSI escapes and CRs; markers are matched on the printable text.
    // eslint-disable-next-line no-control-regex -- ESC is exactly what is being removed
    const clean = line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    this.recent.push(clean);
    if (this.recent.length > keptLines) this.recent.shift();
    if (!this.log.writableEnded) this.log.write(`${clean}\n`);
    this.options.onLine?.(clean);
    for (const waiter of [...this.waiters]) waiter(clean);
  }
}
