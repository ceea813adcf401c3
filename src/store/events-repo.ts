import type { EventData, EventSink, EventType, MachineEventInput } from '../machines/boot.js';
import type { MachineEvent } from '../machines/model.js';
import type { Db } from './db.js';
import { machineOwningMac } from './machines-repo.js';

interface EventRow { id: number; at: number; mac: string; machine_id: string | null; type: string; detail: string; data: string | null }

interface QueuedEvent { readonly at: number; readonly event: MachineEventInput }
interface EventWriter { readonly db: Db; readonly write: (items: ReadonlyArray<QueuedEvent>) => Array<EventRow | undefined> }

const toEvent = (r: EventRow): MachineEvent => ({
  id: r.id, at: r.at, mac: r.mac, machineId: r.machine_id, type: r.type as EventType, detail: r.detail,
  ...(r.data === null ? {} : { data: JSON.parse(r.data) as EventData }),
});

/**
 * An event's data as stored: JSON, or NULL for none (an empty object is none). A number JSON cannot
 * hold (NaN, Infinity) is left out rather than read back as null.
 */
function encodeData(data: EventData | undefined): string | null {
  if (!data) return null;
  const kept = Object.entries(data).filter(([, value]) => typeof value === 'string' || Number.isFinite(value));
  return kept.length > 0 ? JSON.stringify(Object.fromEntries(kept)) : null;
}

/**
 * Events are keyed by MAC because a machine is on the wire (DHCP, iPXE) before it exists in the
 * inventory; enlistment, adding a machine by hand and a new inventory adopt the events of its MACs
 * (adoptByMacs).
 *
 * Recording is write-behind: events queue in memory and are written in one transaction at the end
 * of the event-loop turn (DHCP packet events, which come at packet rate, `writeBehindMs` after the
 * first of them), or before any read. On the main connection (synchronous=FULL) every transaction is
 * an fsync that blocks the event loop: four DHCP events per DORA, each its own fsync, were once most
 * of the DHCP server's time under load, and one per event-loop turn still a tenth. Written behind,
 * they therefore go through `background`, the lease connection (synchronous=NORMAL, no fsync: they
 * survive a crash of the process and reach the disk with the next lease flush or checkpoint). Writes
 * before a read or an adoption go the same way, unless they run inside a transaction of the main
 * connection, where a write on the other connection would wait for a lock it holds (flush()).
 * An event still queued when the process is killed is lost; leases never wait on events.
 */
export class SqliteEventStore implements EventSink {
  private readonly forMachineStmt;
  private readonly adopt;
  private readonly sinceStmt;
  private readonly windowStmt;
  private readonly pruneStmt;
  private readonly listeners = new Set<(event: MachineEvent) => void>();
  private queue: QueuedEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly writeNow: EventWriter;
  private readonly writeBehind: EventWriter;
  /** Where a failed background write is reported (the appliance logs it); reads throw instead. */
  onWriteError: (error: unknown) => void = (error) => console.error('netboot: writing events failed', error);

  constructor(
    db: Db,
    private readonly now: () => number = Date.now,
    /** The connection for writes behind (see above); the main one when not given. */
    background: Db = db,
    /** How long a DHCP packet event may wait in memory before it is written. */
    private readonly writeBehindMs = 50,
  ) {
    this.writeNow = this.writer(db);
    this.writeBehind = background === db ? this.writeNow : this.writer(background);
    this.forMachineStmt = db.prepare<[string], EventRow>('SELECT * FROM events WHERE machine_id = ? ORDER BY id');
    this.adopt = db.prepare('UPDATE events SET machine_id = ? WHERE mac = ? AND machine_id IS NULL');
    this.sinceStmt = db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
    // Retention walks the table in id order (ids follow time: `at` is taken when an event is
    // recorded, and a write waits at most writeBehindMs), by rowid ranges, so it needs no index on
    // `at` that every DHCP packet would have to update.
    this.windowStmt = db.prepare<[number, number], { last: number | null; oldest: number | null }>(
      'SELECT max(id) AS last, min(at) AS oldest FROM (SELECT id, at FROM events WHERE id > ? ORDER BY id LIMIT ?)',
    );
    this.pruneStmt = db.prepare<[number, number, number]>(
      // DHCP packet events, and the events of MACs no machine owns (any host on the boot network can
      // make those: probe F4).
      "DELETE FROM events WHERE id > ? AND id <= ? AND at < ? AND (type LIKE 'dhcp-%' OR machine_id IS NULL)",
    );
  }

  private writer(db: Db): EventWriter {
    // The machine is looked up inside the INSERT, by the same rule as machines-repo's byMac: one
    // statement per event, not two.
    const values = `VALUES (@at, @mac, coalesce(@machineId, ${machineOwningMac('@mac')}), @type, @detail, @data)`;
    type Values = { at: number; mac: string; machineId: string | null; type: string; detail: string; data: string | null };
    const insert = db.prepare<Values>(`INSERT INTO events (at, mac, machine_id, type, detail, data) ${values}`);
    const insertReturning = db.prepare<Values, EventRow>(`INSERT INTO events (at, mac, machine_id, type, detail, data) ${values} RETURNING *`);
    const row = ({ at, event }: QueuedEvent): Values => ({
      at, mac: event.mac, machineId: event.machineId ?? null, type: event.type, detail: event.detail ?? '', data: encodeData(event.data),
    });
    // Rows are read back (RETURNING) only for live subscribers: building them costs more than the insert.
    return { db, write: db.transaction((items: ReadonlyArray<QueuedEvent>) => {
      if (this.listeners.size === 0) {
        for (const item of items) insert.run(row(item));
        return [];
      }
      return items.map((item) => insertReturning.get(row(item)));
    }) };
  }

  record(event: MachineEventInput): void {
    this.queue.push({ at: this.now(), event });
    // DHCP packets are the only events that come at packet rate: they wait for the timer, in
    // batches. Any other event (a state change, a file sent, enlisted) is written at the end of this
    // turn of the event loop, so a reader that sees its effect sees the event too.
    if (this.immediate) return;
    if (!event.type.startsWith('dhcp-')) {
      this.immediate = setImmediate(this.writeBehindNow);
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(this.writeBehindNow, this.writeBehindMs);
    this.timer.unref();
  }

  private readonly writeBehindNow = (): void => {
    try {
      this.write(this.writeBehind);
    } catch (error) {
      this.onWriteError(error);
    }
  };

  /**
   * Writes the queued events now (reads, adoptions and close call it). Outside a transaction of the
   * main connection through the write-behind one, so a reader during a DHCP storm costs no fsync on
   * the event loop (code review 2026-12 item 10); inside one through the main connection, which holds
   * the write lock the other would wait for.
   */
  flush(): void {
    this.write(this.writeNow.db.inTransaction ? this.writeNow : this.writeBehind);
  }

  private write(writer: EventWriter): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.queue.length === 0) return;
    if (!writer.db.open) {
      this.queue = []; // recorded while shutting down, after the final flush: nowhere to go
      return;
    }
    const items = this.queue;
    this.queue = [];
    const rows = writer.write(items);
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

  /**
   * One step of DHCP packet event retention: of the next `batch` events after id `after`, deletes the
   * DHCP packet events (dhcp-*) and the events of no machine recorded before `before`. A machine's
   * other events (state changes, enlistment, files sent) are its history and stay. `next` is where
   * the following step starts, or null when the rest of the table is younger than `before`.
   */
  pruneDhcpStep(before: number, after: number, batch: number): { deleted: number; next: number | null } {
    const window = this.windowStmt.get(after, batch);
    if (window?.last == null || window.oldest == null || window.oldest >= before) return { deleted: 0, next: null };
    const { changes } = this.pruneStmt.run(after, window.last, before);
    return { deleted: changes, next: window.last };
  }

  /** Live feed of recorded events (the lab prints the timeline as it happens). */
  subscribe(listener: (event: MachineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
