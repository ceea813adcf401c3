// Life-cycle timers: one per machine, armed from a stored deadline (so a restart re-arms it), firing
// a callback with the deadline it was armed for (the service checks it is still the current one).
import type { Logger } from 'pino';

/** setTimeout's limit (2^31-1 ms, about 24.8 days): longer delays are re-armed in steps. */
const MAX_DELAY = 2 ** 31 - 1;

export class MachineTimers {
  private readonly handles = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly now: () => number,
    private readonly fire: (machineId: string, deadline: number) => void,
    private readonly log: Logger,
  ) {}

  arm(machineId: string, deadline: number): void {
    this.disarm(machineId);
    const delay = Math.max(0, deadline - this.now());
    const handle = setTimeout(() => {
      this.handles.delete(machineId);
      if (delay > MAX_DELAY) {
        this.arm(machineId, deadline);
        return;
      }
      try {
        this.fire(machineId, deadline);
      } catch (err) {
        this.log.error({ err, machine: machineId }, 'life-cycle timer failed');
      }
    }, Math.min(delay, MAX_DELAY));
    handle.unref(); // a pending timer never keeps the process alive on shutdown
    this.handles.set(machineId, handle);
  }

  disarm(machineId: string): void {
    const handle = this.handles.get(machineId);
    if (handle) clearTimeout(handle);
    this.handles.delete(machineId);
  }

  clear(): void {
    for (const handle of this.handles.values()) clearTimeout(handle);
    this.handles.clear();
  }
}
