// Runs a BMC client (ipmitool) as a child process with a deadline: its output is collected (bounded)
// for the caller to read, since the exit status alone is not trusted (ipmitool exits 0 when
// `chassis bootdev` fails: ../shared/recipes/bmc.md 1.6). Secrets go in through the environment,
// never the argument list, which every user can read in ps.
import { spawn } from 'node:child_process';
import { PowerError } from './driver.js';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they came, at most maxOutputBytes. */
  readonly output: string;
}

export interface CommandOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** SIGKILL after this long, and a PowerError naming the command. */
  readonly timeoutMs: number;
}

/** A client that prints more than this is not answering a power command: the rest is dropped. */
const maxOutputBytes = 64 * 1024;

export function runCommand(command: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // A minimal environment: the child sees only what it needs (PATH, LANG=C for English messages
      // that the parsers match) plus the caller's variables.
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', ...options.env },
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    const collect = (chunk: Buffer) => {
      if (bytes >= maxOutputBytes) return;
      chunks.push(chunk.subarray(0, maxOutputBytes - bytes));
      bytes += chunk.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (cause) => {
      clearTimeout(timer);
      const hint = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed: run scripts/install-deps.sh)' : '';
      reject(new PowerError(`cannot run ${command}${hint}: ${cause.message}`, { cause }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      if (timedOut) reject(new PowerError(`${command} ${args.at(-1) === undefined ? '' : lastWords(args)} did not finish within ${options.timeoutMs} ms`));
      else resolve({ code, signal, output });
    });
  });
}

/** The subcommand at the end of an ipmitool argument list (`chassis power on`), for messages. */
function lastWords(args: readonly string[]): string {
  const at = args.indexOf('chassis');
  return at === -1 ? '' : args.slice(at).join(' ');
}
