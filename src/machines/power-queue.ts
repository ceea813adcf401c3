// One power action in flight per machine, off the request path (STYLE.md §16; MAAS keeps one power
// action per node for the same reason): `commission` (a cycle, seconds over IPMI) then `abort` (an off)
// must reach the BMC in that order, or the machine ends up on in a state that says off. Work for one
// machine runs in the order it was queued; machines do not wait for each other.
import type { Logger } from 'pino';

export class PowerQueue {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly log: Logger) {}

  /** Runs `work` after everything queued before it for this machine; its failure is logged, never thrown. */
  enqueue(machineId: string, work: () => Promise<void>): void {
    void this.settle(machineId, work);
  }

  /** As enqueue, and settles (never rejects) when this work is done: the poll bounds its concurrency with it. */
  settle(machineId: string, work: () => Promise<void>): Promise<void> {
    const tail = (this.tails.get(machineId) ?? Promise.resolve())
      .then(work)
      .catch((err: unknown) => this.log.warn({ err, machine: machineId }, 'power work failed'));
    this.tails.set(machineId, tail);
    void tail.then(() => {
      if (this.tails.get(machineId) === tail) this.tails.delete(machineId);
    });
    return tail;
  }

  /** Settles when this machine's queue is empty (tests, and `?wait`-style callers). */
  async idle(machineId: string): Promise<void> {
    for (let tail = this.tails.get(machineId); tail; tail = this.tails.get(machineId)) await tail;
  }

  /** Settles when every queue is empty or after `deadlineMs`; true when everything finished in time. */
  async drain(deadlineMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
      timer.unref();
    });
    const all = (async () => {
      while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
      return true as const;
    })();
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
