// DHCP packet events are kept for `events.dhcpRetentionDays`. They come at packet rate from every
// client on the segment, boot clients or not (a laptop renewing its lease every half lease time
// adds two a renewal), so without a limit the timeline table of a long-running appliance grows
// without bound. Everything else on the timeline comes at human or boot rate and stays.
//
// A run deletes in small steps (one transaction each) and yields to the event loop between steps,
// so a first run over months of events does not hold up DHCP, TFTP or HTTP.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { SqliteEventStore } from './events-repo.js';

const dayMs = 24 * 60 * 60 * 1000;

export interface EventRetentionOptions {
  /** Days DHCP packet events are kept; 0 keeps them for ever. */
  readonly dhcpRetentionDays: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** Between runs; the first run starts at once. */
  readonly intervalMs?: number;
  /** Events examined per step (one transaction). */
  readonly batch?: number;
}

export class EventRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly events: SqliteEventStore, private readonly options: EventRetentionOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Runs now and then every intervalMs (default hourly), until close(). */
  start(): void {
    if (this.options.dhcpRetentionDays === 0) return;
    const run = () => void this.run();
    run();
    this.timer = setInterval(run, this.options.intervalMs ?? 60 * 60 * 1000);
    this.timer.unref();
  }

  /** One pass over the table; resolves with the number of events deleted. A run in progress is joined. */
  run(): Promise<number> {
    this.running ??= this.prune().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and waits for a run in progress to stop at its next step. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async prune(): Promise<number> {
    const { dhcpRetentionDays, log, batch = 2000 } = this.options;
    if (dhcpRetentionDays === 0) return 0;
    const before = this.now() - dhcpRetentionDays * dayMs;
    let deleted = 0;
    try {
      for (let after: number | null = 0; after !== null && !this.stopped; await nextTurn()) {
        const step = this.events.pruneDhcpStep(before, after, batch);
        deleted += step.deleted;
        after = step.next;
      }
    } catch (err) {
      log.error({ err, deleted }, 'pruning old DHCP events failed; the next run tries again');
      return deleted;
    }
    if (deleted > 0) log.info({ deleted, olderThanDays: dhcpRetentionDays }, 'old DHCP packet events pruned');
    return deleted;
  }
}
