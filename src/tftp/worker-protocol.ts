// Messages between the TFTP listener (main thread, worker-pool.ts) and its transfer workers
// (transfer-worker.ts). Values only: everything here survives structured cloning.
import type { TftpHandover } from './files.js';
import type { SessionEnd } from './session.js';
import type { TransferJob, TransferOutcome } from './transfer-runner.js';

/** workerData of every transfer worker. */
export interface WorkerSetup {
  /** The listener's pino level: the worker logs no more than the main thread would. */
  readonly logLevel: string;
  /** Bound of the worker's FileCache in octets; 0 turns it off. */
  readonly cacheBytes: number;
}

export type ToWorker =
  /**
   * `state`: an Int32Array's memory shared with the main thread; [0] becomes 1 just before the last
   * block first goes out, so the listener knows at once when the client's next RRQ may come (a
   * message could arrive after that RRQ).
   */
  | { readonly type: 'start'; readonly id: number; readonly job: TransferJob; readonly source: TftpHandover; readonly state: SharedArrayBuffer }
  | { readonly type: 'abort'; readonly id: number; readonly message: string };

export type FromWorker =
  /** Imports done, listening for work. */
  | { readonly type: 'ready' }
  /** The session ended; its sockets are closing (the client's slot can be freed now). */
  | { readonly type: 'end'; readonly id: number; readonly end: SessionEnd }
  /** Sockets closed and no read of the source outstanding: the main thread may close the file. */
  | { readonly type: 'done'; readonly id: number; readonly outcome: TransferOutcome }
  /** A pino line of transfer `id`, to be logged by the main thread's logger for that client. */
  | { readonly type: 'log'; readonly id: number; readonly line: string };
