import type { EventSink, EventType, MachineEventInput } from '../machines/boot.js';
import type { MachineEvent } from '../machines/model.js';
import type { Db } from './db.js';

interface EventRow { id: number; at: number; mac: string; machine_id: string | null; type: string; detail: string }

const toEvent = (r: EventRow): MachineEvent => ({
  id: r.id, at: r.at, mac: r.mac, machineId: r.machine_id, type: r.type as EventType, detail: r.detail,
});

/**
 * Events are keyed by MAC because a machine is on the wire (DHCP, iPXE) before it exists in the
 * inventory; enlistment adopts the events of its MACs (adoptByMacs).
 *
 * Recording is batched: events queue in memory and are written in one transaction at the end of the
 * event-loop turn (setImmediate), and before any read. With synchronous=FULL each transaction is an
 * fsync; four DHCP events per DORA, each its own fsync, were most of the DHCP server's time under
 * load. An event still queued when the process is killed is lost; leases never wait on events.
 */
export class SqliteEventStore implements EventSink {
  private readonly insert;
  private readonly machineOf;
  private readonly forMachineStmt;
  private readonly adopt;
  private readonly sinceStmt;
  private readonly listeners = new Set<(event: MachineEvent) => void>();
  private queue: Array<{ at: number; event: MachineEventInput }> = [];
  private flushScheduled = false;
  private readonly writeQueue;
  /** Where a failed background write is reported (the appliance logs it); reads throw instead. */
  onWriteError: (error: unknown) => void = (error) => console.error('netboot: writing events failed', error);

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    this.insert = db.prepare<[number, string, string | null, string, string], EventRow>(
      'INSERT INTO events (at, mac, machine_id, type, detail) VALUES (?, ?, ?, ?, ?) RETURNING *',
    );
    this.machineOf = db.prepare<[string], { machine_id: string }>('SELECT machine_id FROM interfaces WHERE mac = ?');
    this.forMachineStmt = db.prepare<[string], EventRow>('SELECT * FROM events WHERE machine_id = ? ORDER BY id');
    this.adopt = db.prepare('UPDATE events SET machine_id = ? WHERE mac = ? AND machine_id IS NULL');
    this.sinceStmt = db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.writeQueue = db.transaction((items: ReadonlyArray<{ at: number; event: MachineEventInput }>) => items.map(({ at, event }) => {
      const machineId = this.machineOf.get(event.mac)?.machine_id ?? null;
      return this.insert.get(at, event.mac, machineId, event.type, event.detail ?? '');
    }));
  }

  record(event: MachineEventInput): void {
    this.queue.push({ at: this.now(), event });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      try {
        this.flush();
      } catch (error) {
        this.onWriteError(error);
      }
    });
  }

  /** Writes the queued events now (reads and close call it; otherwise the end of the loop turn). */
  flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    if (!this.db.open) {
      this.queue = []; // recorded while shutting down, after the final flush: nowhere to go
      return;
    }
    const items = this.queue;
    this.queue = [];
    const rows = this.writeQueue(items);
    for (const row of rows) {
      if (!row) continue;
      const stored = toEvent(row);
      for (const listener of this.listeners) listener(stored);
    }
  }

  forMachine(machineId: string): MachineEvent[] {
    this.flush();
    return this.forMachineStmt.all(machineId).map(toEvent);
  }

  /** Events after the given id, oldest first: for readers in another process (the lab) that follow along. */
  since(afterId: number, limit = 500): MachineEvent[] {
    this.flush();
    return this.sinceStmt.all(afterId, limit).map(toEvent);
  }

  adoptByMacs(machineId: string, macs: readonly string[]): void {
    this.flush();
    for (const mac of macs) this.adopt.run(machineId, mac);
  }

  /** Live feed of recorded events (the lab prints the timeline as it happens). */
  subscribe(listener: (event: MachineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
