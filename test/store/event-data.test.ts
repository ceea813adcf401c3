// Structured event data (code review 2026-12 item 9): migration 5 adds the column to an old database,
// the store carries data through writes, reads and live subscribers, and the boot side's bound keeps
// it small.
import { afterEach, beforeEach, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BoundedEvents, cleanData } from '../../src/machines/event-bounds.js';
import type { MachineEventInput } from '../../src/machines/boot.js';
import type { MachineEvent } from '../../src/machines/model.js';
import { migrations } from '../../src/store/migrations.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';

const mac = sampleInventory().bootMac;
let dir: ReturnType<typeof tempDir>;
let store: Store | undefined;

beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  dir.cleanup();
});

test('a database of schema 4 opens, gains the data column, and keeps its old events', async () => {
  const dataDir = join(dir.path, 'data');
  mkdirSync(dataDir, { recursive: true });
  const old = new Database(join(dataDir, 'netboot.db'));
  for (const migration of migrations.slice(0, 4)) old.exec(migration);
  old.pragma('user_version = 4');
  old.prepare("INSERT INTO events (at, mac, type, detail) VALUES (1, ?, 'kernel', 'old')").run(mac);
  old.close();

  store = openStore(dataDir);
  expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length);
  const columns = store.db.prepare<[], { name: string }>('PRAGMA table_info(events)').all().map((c) => c.name);
  expect(columns).toContain('data');
  const { machine } = store.machines.enlist(sampleInventory(), (id, macs) => store!.events.adoptByMacs(id, macs));
  store.events.record({ mac, type: 'kernel', detail: 'new', data: { bytes: 1234, ms: 5, outcome: 'completed' } });
  const events = store.events.forMachine(machine.id);
  expect(events.map((e) => [e.detail, e.data])).toEqual([['old', undefined], ['new', { bytes: 1234, ms: 5, outcome: 'completed' }]]);
});

test('data goes through writes, reads and live subscribers; none and empty read back as absent', () => {
  store = openStore(join(dir.path, 'data'));
  const { machine } = store.machines.enlist(sampleInventory(), (id, macs) => store!.events.adoptByMacs(id, macs));
  const live: MachineEvent[] = [];
  const unsubscribe = store.events.subscribe((event) => live.push(event));
  store.events.record({ mac, type: 'tftp-sent', detail: 'x', data: { bytes: 65_536, ms: 12, name: 'ipxe.efi' } });
  store.events.record({ mac, type: 'note', detail: 'no data' });
  store.events.record({ mac, type: 'note', detail: 'empty', data: {} });
  store.events.record({ mac, type: 'note', detail: 'odd numbers', data: { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ok: -1.5 } });
  const read = store.events.forMachine(machine.id);
  unsubscribe();
  const want = [{ bytes: 65_536, ms: 12, name: 'ipxe.efi' }, undefined, undefined, { ok: -1.5 }];
  expect(read.map((e) => e.data)).toEqual(want);
  expect(live.map((e) => e.data)).toEqual(want);
  expect(store.events.since(0).map((e) => e.data)).toEqual(want);
  expect('data' in read[1]!).toBe(false);
});

test('the boot-side bound passes data through, at most 16 identifier keys, strings capped, numbers finite', () => {
  const recorded: MachineEventInput[] = [];
  const bounded = new BoundedEvents({ record: (event) => recorded.push(event) }, { maxDetail: 20 });
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
  bounded.record({ mac, type: 'kernel', detail: 'range 0-', data: { bytes: 10, ms: 2, outcome: 'aborted' } });
  bounded.record({ mac, type: 'kernel', data: many });
  bounded.record({ mac, type: 'kernel', data: { 'bad key': 1, __proto__x: 2, long: 'y'.repeat(100), ctl: 'a\u0007b', nan: Number.NaN } });
  bounded.record({ mac, type: 'kernel', data: { 'bad key': 1 } });
  expect(recorded[0]).toEqual({ mac, type: 'kernel', detail: 'range 0-', data: { bytes: 10, ms: 2, outcome: 'aborted' } });
  expect(Object.keys(recorded[1]!.data!)).toEqual(Array.from({ length: 16 }, (_, i) => `k${i}`));
  expect(recorded[2]!.data).toEqual({ long: `${'y'.repeat(19)}…`, ctl: 'a\ufffdb' });
  expect('data' in recorded[3]!).toBe(false);
  expect(cleanData(undefined)).toBeUndefined();
});
