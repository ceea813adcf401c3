import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';

describe('SQLite store', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let clock = 1_700_000_000_000;
  beforeEach(() => {
    dir = tempDir();
    store = openStore(dir.path, () => clock);
  });
  afterEach(async () => {
    await store.close();
    dir.cleanup();
  });

  const enlist = (inv = sampleInventory()) => store.machines.enlist(inv, (id, macs) => store.events.adoptByMacs(id, macs));

  test('enlisting creates a New machine with its interfaces', () => {
    const { machine, created } = enlist();
    expect(created).toBe(true);
    expect(machine.state).toBe('New');
    expect(machine.bootMac!).toBe('52:54:00:12:34:56');
    expect(machine.uuid).toBe('6e657462-6f6f-4c61-8062-000000000001');
    expect(machine.inventory?.cpu.count).toBe(2);
    expect(store.machines.byMac('52:54:00:12:34:56')?.id).toBe(machine.id);
    expect(machine.id).toMatch(/^[a-z2-9]{6}$/);
  });

  test('re-enlisting by MAC, by another NIC or by UUID updates, never duplicates', () => {
    const first = enlist().machine;
    clock += 1000;
    const again = enlist(sampleInventory({ cpu: { count: 4, model: 'x' } }));
    expect(again.created).toBe(false);
    expect(again.machine.id).toBe(first.id);
    expect(again.machine.inventory?.cpu.count).toBe(4);
    expect(again.machine.updatedAt).toBe(first.updatedAt + 1000);
    // Same SMBIOS UUID, new boot NIC: still the same machine.
    const byUuid = enlist(sampleInventory({
      bootMac: '52:54:00:aa:bb:cc',
      nics: [{ name: 'eth1', mac: '52:54:00:aa:bb:cc', driver: 'virtio_net', link: true, speedMbps: null }],
    }));
    expect(byUuid.machine.id).toBe(first.id);
    expect(store.machines.list()).toHaveLength(1);
    expect(store.machines.byMac('52:54:00:aa:bb:cc')?.id).toBe(first.id);
  });

  test('an all-zero SMBIOS UUID is not an identity', () => {
    const zero = '00000000-0000-0000-0000-000000000000';
    const a = enlist(sampleInventory({ dmi: { vendor: '', product: '', serial: '', uuid: zero } })).machine;
    const b = enlist(sampleInventory({
      bootMac: '52:54:00:00:00:02', nics: [{ name: 'eth0', mac: '52:54:00:00:00:02', driver: 'e1000', link: true, speedMbps: null }],
      dmi: { vendor: '', product: '', serial: '', uuid: zero },
    })).machine;
    expect(a.uuid).toBeNull();
    expect(b.id).not.toBe(a.id);
  });

  test('events recorded before enlistment are adopted by the machine, later ones attach directly', () => {
    store.events.record({ mac: '52:54:00:12:34:56', type: 'dhcp-offer', detail: '10.0.0.100' });
    store.events.record({ mac: '52:54:00:99:99:99', type: 'dhcp-offer', detail: 'someone else' });
    const { machine } = enlist();
    store.events.record({ mac: '52:54:00:12:34:56', type: 'enlisted' });
    const types = store.events.forMachine(machine.id).map((e) => e.type);
    expect(types).toEqual(['dhcp-offer', 'enlisted']);
    expect(store.events.since(0).map((e) => e.mac)).toContain('52:54:00:99:99:99');
  });

  test('a machine added by hand gets the events of its boot MAC, before the inventory names its NICs', () => {
    const machine = store.machines.create({ bootMac: '52:54:00:77:77:77', power: { type: 'manual' } });
    store.events.record({ mac: '52:54:00:77:77:77', type: 'dhcp-offer', detail: '10.0.0.7' });
    store.events.record({ mac: '52:54:00:77:77:77', type: 'note', detail: 'by hand' });
    expect(store.events.forMachine(machine.id).map((e) => e.type)).toEqual(['dhcp-offer', 'note']);
  });

  test('byMac finds a machine by boot MAC or any NIC with index searches only, among thousands', () => {
    const insertMachine = store.db.prepare(
      "INSERT INTO machines (id, hostname, state, boot_mac, arch, created_at, updated_at) VALUES (?, ?, 'New', ?, 'x86_64', 0, 0)",
    );
    const insertNic = store.db.prepare("INSERT INTO interfaces (mac, machine_id, name, driver, link) VALUES (?, ?, 'eth1', 'e1000', 1)");
    const mac = (i: number, nic: number) => `52:54:0${nic}:${[i >> 16, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    store.db.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        insertMachine.run(`m${i}`, `host-${i}`, mac(i, 0));
        insertNic.run(mac(i, 1), `m${i}`);
      }
    })();
    expect(store.machines.byMac(mac(1234, 0))?.id).toBe('m1234');
    expect(store.machines.byMac(mac(2345, 1))?.id).toBe('m2345');
    expect(store.machines.byMac('52:54:00:ff:ff:ff')).toBeUndefined();
    // The statement the store runs (better-sqlite3 keeps its text), asked for its plan.
    const sql = store.machines['byMacStmt'].source;
    const plan = store.db.prepare<{ mac: string }, { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all({ mac: mac(1, 1) }).map((r) => r.detail);
    expect(plan.join('\n')).toMatch(/SEARCH m USING INDEX/);
    expect(plan.filter((line) => /^SCAN m\b/.test(line))).toEqual([]);
  });

  test('leases survive a reopen; an address moves to a new MAC only with the old lease dropped', async () => {
    store.leases.upsertMany([{ mac: 'aa:aa:aa:aa:aa:aa', ip: '10.0.0.100', state: 'bound', expiresAt: 1 }]);
    store.leases.upsertMany([{ mac: 'bb:bb:bb:bb:bb:bb', ip: '10.0.0.100', state: 'offered', expiresAt: 2 }]);
    await store.close();
    store = openStore(dir.path);
    expect(store.leases.all()).toEqual([{ mac: 'bb:bb:bb:bb:bb:bb', ip: '10.0.0.100', state: 'offered', expiresAt: 2 }]);
    expect(store.leases.byIp('10.0.0.100')?.mac).toBe('bb:bb:bb:bb:bb:bb');
    expect(store.leases.byMac('aa:aa:aa:aa:aa:aa')).toBeUndefined();
  });

  test('relay information is kept per MAC, survives a reopen, and is rewritten only on change', async () => {
    store.relays.record('aa:aa:aa:aa:aa:aa', { giaddr: '10.50.0.1', circuitId: 'rack7/port3' }, { zone: 'rack7' });
    clock += 1000;
    store.relays.record('aa:aa:aa:aa:aa:aa', { giaddr: '10.50.0.1', circuitId: 'rack7/port3' }, { zone: 'rack7' });
    expect(store.relays.byMac('aa:aa:aa:aa:aa:aa')).toEqual({
      mac: 'aa:aa:aa:aa:aa:aa', giaddr: '10.50.0.1', circuitId: 'rack7/port3', zone: 'rack7', seenAt: clock - 1000,
    });
    await store.close();
    store = openStore(dir.path, () => clock);
    store.relays.record('aa:aa:aa:aa:aa:aa', { giaddr: '10.50.0.1', circuitId: 'rack9/port1' }, {});
    expect(store.relays.byMac('aa:aa:aa:aa:aa:aa')).toEqual({ mac: 'aa:aa:aa:aa:aa:aa', giaddr: '10.50.0.1', circuitId: 'rack9/port1', seenAt: clock });
  });

  test('events are written in batches, and every read sees the ones still queued', () => {
    const { machine } = enlist();
    store.events.record({ mac: machine.bootMac!, type: 'dhcp-offer', detail: '10.0.0.5' });
    store.events.record({ mac: machine.bootMac!, type: 'dhcp-ack', detail: '10.0.0.5' });
    expect(store.events.forMachine(machine.id).map((e) => e.type)).toEqual(['dhcp-offer', 'dhcp-ack']);
  });

  test('a database from a newer netboot is refused', async () => {
    store.db.pragma('user_version = 999');
    await store.close();
    expect(() => { store = openStore(dir.path); }).toThrow(/newer than this netboot/);
    // afterEach closes `store` and removes `dir`: give it a fresh pair, and drop the refused one now.
    dir.cleanup();
    dir = tempDir();
    store = openStore(dir.path);
  });
});

test('a new data directory is 0700 and the database files 0600; older 0644 files are tightened', async () => {
  const dir = tempDir();
  try {
    const dataDir = join(dir.path, 'data');
    const store = openStore(dataDir);
    store.machines.enlist(sampleInventory(), () => undefined); // a commit, so -wal and -shm exist
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dataDir)).toBe(0o700);
    for (const file of ['netboot.db', 'netboot.db-wal', 'netboot.db-shm']) expect(mode(join(dataDir, file)), file).toBe(0o600);
    await store.close();
    chmodSync(join(dataDir, 'netboot.db'), 0o644);
    const again = openStore(dataDir);
    expect(mode(join(dataDir, 'netboot.db'))).toBe(0o600);
    await again.close();
  } finally {
    dir.cleanup();
  }
});
