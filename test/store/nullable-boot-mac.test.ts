// Migration 8 (issue 14): machines.boot_mac loses NOT NULL by a table rebuild, for machines added by
// their BMC alone. A database of schema 7 with a machine and everything that hangs off it (NICs,
// events, tags, script runs and results) keeps all of it: the rebuild drops the old table, which
// with foreign keys on would have cascaded into every child table. After it, many machines may wait
// without a boot MAC, a boot MAC stays unique, and so does a token.
import { afterEach, beforeEach, expect, test } from 'vitest';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from '../../src/store/migrations.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/fixtures.js';

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

const counts = (db: Database.Database) => Object.fromEntries(['machines', 'interfaces', 'events', 'machine_tags', 'script_runs', 'script_results']
  .map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]));

test('a schema 7 database keeps its machines and everything that belongs to them; boot_mac may then be NULL', () => {
  const dataDir = join(dir.path, 'data');
  mkdirSync(dataDir, { recursive: true });
  const old = new Database(join(dataDir, 'netboot.db'));
  old.pragma('foreign_keys = ON');
  for (const migration of migrations.slice(0, 7)) old.exec(migration);
  old.pragma('user_version = 7');
  old.exec(`
    INSERT INTO machines (id, hostname, state, boot_mac, arch, created_at, updated_at, token, power, power_state)
      VALUES ('abc234', 'rack1-u1', 'Ready', '52:54:00:00:30:01', 'x86_64', 1, 2, 'tok-1', '{"type":"manual"}', 'off');
    INSERT INTO interfaces (mac, machine_id, name, driver, link) VALUES ('52:54:00:00:30:01', 'abc234', 'eth0', 'e1000', 1);
    INSERT INTO events (at, mac, machine_id, type, detail) VALUES (1, '52:54:00:00:30:01', 'abc234', 'enlisted', 'old');
    INSERT INTO tags (name) VALUES ('gpu');
    INSERT INTO machine_tags (machine_id, tag) VALUES ('abc234', 'gpu');
    INSERT INTO script_runs (machine_id, phase, scripts, status, started_at) VALUES ('abc234', 'commissioning', '[]', 'passed', 1);
    INSERT INTO script_results (run_id, name, exit_code, timed_out, duration_ms, stdout, stderr, files, at)
      VALUES (1, '00-inventory', 0, 0, 5, x'', x'', '[]', 1);`);
  const before = counts(old);
  old.close();

  store = openStore(dataDir);
  expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length);
  expect(counts(store.db)).toEqual(before);
  expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
  const machine = store.machines.byMac('52:54:00:00:30:01')!;
  expect(machine).toMatchObject({ id: 'abc234', hostname: 'rack1-u1', state: 'Ready', powerState: 'off', tags: ['gpu'] });
  expect(store.events.forMachine('abc234').map((e) => e.detail)).toEqual(['old']);

  // Two machines waiting for their first boot; a boot MAC and a token still belong to one machine.
  const waiting = [1, 2].map(() => store!.machines.create({ bootMac: null, power: { type: 'ipmi', address: '10.0.0.5' } }));
  expect(waiting.map((m) => m.bootMac)).toEqual([null, null]);
  expect(() => store!.machines.create({ bootMac: '52:54:00:00:30:01', power: { type: 'manual' } })).toThrow(/UNIQUE/);
  expect(() => store!.machines.update(waiting[0]!.id, { token: 'tok-1' })).toThrow(/UNIQUE/);
  // Deleting a machine still cascades (foreign keys are back on after the migration).
  expect(store.machines.delete('abc234')).toBe(true);
  expect(counts(store.db)).toMatchObject({ interfaces: 0, machine_tags: 0, script_runs: 0, script_results: 0 });
});
