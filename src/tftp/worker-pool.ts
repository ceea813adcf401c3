// The TFTP transfer workers, seen from the main thread. Node pays a fixed cost per UDP send on the
// thread that sends; one thread is saturated long before the network is. The listener stays here
// (requests, limits, files through the Booter); each transfer's sockets and session run in a worker,
// the one with the fewest transfers. A worker that dies fails its own transfers and is replaced.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { TftpWorkerError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { TftpHandover } from './files.js';
import type { SessionEnd } from './session.js';
import type { TransferHandle, TransferJob, TransferOutcome } from './transfer-runner.js';
import type { TransferHooks } from './transfer.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

interface Running {
  readonly log: Logger;
  readonly hooks: TransferHooks;
  readonly resolve: (outcome: TransferOutcome) => void;
  ended: boolean;
}

interface Member {
  worker: Worker;
  readonly transfers: Map<number, Running>;
  ready: boolean;
  /** False between a worker's death and its replacement: no work goes there. */
  alive: boolean;
}

export interface WorkerInfo {
  readonly threadId: number;
  readonly transfers: number;
}

/** A worker that is not ready this long after it started is reported as broken. */
const READY_TIMEOUT_MS = 10_000;
/** A worker that died before it was ready is restarted after this pause, not in a tight loop. */
const RESPAWN_PAUSE_MS = 1000;

export class WorkerPool {
  private readonly members: Member[] = [];
  private nextId = 1;
  private closing = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly setup: WorkerSetup, private readonly log: Logger, private readonly entry: string) {}

  /** Starts `count` workers and waits until each is ready (a worker that cannot load is a startup error). */
  static async start(count: number, setup: WorkerSetup, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(setup, log, workerEntry());
    for (let i = 0; i < count; i++) pool.members.push(pool.spawn());
    try {
      await Promise.all(pool.members.map((m) => pool.ready(m)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get workers(): WorkerInfo[] {
    return this.members.map((m) => ({ threadId: m.worker.threadId, transfers: m.transfers.size }));
  }

  /** Runs a transfer in the least busy worker; the same contract as runTransfer in the main thread. */
  run(job: TransferJob, source: TftpHandover, log: Logger, hooks: TransferHooks): TransferHandle {
    const alive = this.members.filter((m) => m.alive);
    if (alive.length === 0) {
      // Every worker died before it was ready and waits to be restarted: refuse, do not queue.
      return { outcome: Promise.resolve({ kind: 'refused', reason: 'no TFTP transfer worker is running' }), lastBlockSent: () => false, abort: () => undefined };
    }
    const member = alive.reduce((a, b) => (b.transfers.size < a.transfers.size ? b : a));
    const id = this.nextId++;
    const outcome = new Promise<TransferOutcome>((resolve) => {
      member.transfers.set(id, { log, hooks, resolve, ended: false });
    });
    const state = new SharedArrayBuffer(4);
    const flags = new Int32Array(state);
    this.post(member, { type: 'start', id, job, source, state });
    return {
      outcome,
      lastBlockSent: () => Atomics.load(flags, 0) === 1,
      abort: (message) => {
        if (member.transfers.has(id)) this.post(member, { type: 'abort', id, message });
      },
    };
  }

  /** Ends one worker as a crash would: its transfers fail, a new worker takes its place. */
  async terminate(threadId: number): Promise<void> {
    await this.members.find((m) => m.worker.threadId === threadId)?.worker.terminate();
  }

  /** Stops every worker. Transfers still running fail; server.ts aborts them (ERROR 0) first. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(this.members.map((m) => m.worker.terminate()));
  }

  private spawn(): Member {
    const member: Member = { worker: this.newWorker(), transfers: new Map(), ready: false, alive: true };
    this.attach(member);
    return member;
  }

  private newWorker(): Worker {
    return new Worker(this.entry, { workerData: this.setup, stdout: false, stderr: false });
  }

  private attach(member: Member): void {
    const { worker } = member;
    let crash: unknown = null;
    worker.on('message', (message: FromWorker) => this.onMessage(member, message));
    worker.on('error', (err) => {
      crash = err;
      this.log.error({ err, threadId: worker.threadId }, 'TFTP transfer worker crashed');
    });
    worker.on('exit', (code) => this.onExit(member, code, crash));
  }

  private ready(member: Member): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TftpWorkerError(`a TFTP transfer worker did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        member.worker.off('message', onMessage);
        member.worker.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onMessage = (message: FromWorker): void => (message.type === 'ready' ? done() : undefined);
      const onExit = (code: number): void => done(new TftpWorkerError(`a TFTP transfer worker exited with code ${code} while starting (${this.entry})`));
      member.worker.on('message', onMessage);
      member.worker.on('exit', onExit);
    });
  }

  private onMessage(member: Member, message: FromWorker): void {
    if (message.type === 'ready') {
      member.ready = true;
      return;
    }
    const running = member.transfers.get(message.id);
    if (!running) return;
    switch (message.type) {
      case 'end':
        running.ended = true;
        running.hooks.onEnd?.(message.end);
        break;
      case 'done':
        member.transfers.delete(message.id);
        running.resolve(message.outcome);
        break;
      case 'log':
        relayLog(running.log, message.line);
        break;
    }
  }

  private onExit(member: Member, code: number, crash: unknown): void {
    const reason = `the transfer worker stopped (exit code ${code}${crash ? `: ${String(crash)}` : ''})`;
    for (const running of member.transfers.values()) {
      // Its sockets died with it: the client times out, as it would after a server crash.
      const end: SessionEnd = { kind: 'failed', reason, bytes: 0, retransmits: 0 };
      if (!running.ended) running.hooks.onEnd?.(end);
      running.resolve({ kind: 'ended', end });
    }
    member.transfers.clear();
    member.alive = false;
    if (this.closing) return;
    this.log.warn({ threadId: member.worker.threadId, code }, 'TFTP transfer worker stopped: starting another');
    const replace = (): void => {
      member.worker = this.newWorker(); // same slot: late messages of the dead worker have nowhere to go
      member.ready = false;
      member.alive = true;
      this.attach(member);
    };
    if (member.ready) replace();
    else {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        replace();
      }, RESPAWN_PAUSE_MS);
      this.timers.add(timer);
    }
  }

  private post(member: Member, message: ToWorker): void {
    member.worker.postMessage(message);
  }
}

/** pino's numeric levels: the worker's line is logged again, at its level, with the client's bindings. */
function relayLog(log: Logger, line: string): void {
  const { level, msg, transfer: _transfer, ...fields } = JSON.parse(line) as { level: number; msg?: string; transfer?: number };
  const label = log.levels.labels[level] ?? 'info';
  (log as unknown as Record<string, (obj: object, msg?: string) => void>)[label]?.(fields, msg);
}

/**
 * The compiled worker beside this file (dist/tftp, or a benchmark's build). Running from the
 * TypeScript sources (vitest), there is no .js beside us and Node cannot start a .ts worker: the
 * built copy in dist/ is used, so tests need `npm run build` first.
 */
function workerEntry(): string {
  const beside = fileURLToPath(new URL('./transfer-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const built = join(packageRoot, 'dist', 'tftp', 'transfer-worker.js');
  if (existsSync(built)) return built;
  throw new TftpWorkerError(`the TFTP transfer worker ${beside} is missing: run npm run build (or set tftp.workers: 0)`);
}
