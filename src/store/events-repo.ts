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
 */
export class SqliteEventStore implements EventSink {
  private readonly insert;
  private readonly machineOf;
  private readonly forMachineStmt;
  private readonly adopt;
  private readonly sinceStmt;
  private readonly listeners = new Set<(event: MachineEvent) => void>();

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.insert = db.prepare<[number, string, string | null, string, string], EventRow>(
      'INSERT INTO events (at, mac, machine_id, type, detail) VALUES (?, ?, ?, ?, ?) RETURNING *',
    );
    this.machineOf = db.prepare<[string], { machine_id: string }>('SELECT machine_id FROM interfaces WHERE mac = ?');
    this.forMachineStmt = db.prepare<[string], EventRow>('SELECT * FROM events WHERE machine_id = ? ORDER BY id');
    this.adopt = db.prepare('UPDATE events SET machine_id = ? WHERE mac = ? AND machine_id IS NULL');
    this.sinceStmt = db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?');
  }

  record(event: MachineEventInput): void {
    const machineId = this.machineOf.get(event.mac)?.machine_id ?? null;
    const row = this.insert.get(this.now(), event.mac, machineId, event.type, event.detail ?? '');
    if (!row) return;
    const stored = toEvent(row);
    for (const listener of this.listeners) listener(stored);
  }

  forMachine(machineId: string): MachineEvent[] {
    return this.forMachineStmt.all(machineId).map(toEvent);
  }

  /** Events after the given id, oldest first: for readers in another process (the lab) that follow along. */
  since(afterId: number, limit = 500): MachineEvent[] {
    return this.sinceStmt.all(afterId, limit).map(toEvent);
  }

  adoptByMacs(machineId: string, macs: readonly string[]): void {
    for (const mac of macs) this.adopt.run(machineId, mac);
  }

  /** Live feed of recorded events (the lab prints the timeline as it happens). */
  subscribe(listener: (event: MachineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
