// The lease connection (synchronous=NORMAL) and WalSync, which makes its commits durable with an
// fdatasync of the WAL off the event loop. Real SQLite files in a temp folder; fdatasync is counted
// on the real FileHandle, not replaced.
import { open } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { WalSync } from '../../src/store/wal-sync.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';

const lease = (n: number) => ({ mac: `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`, ip: `192.0.2.${n}`, state: 'bound' as const, expiresAt: 2e12 });

describe('lease durability', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  beforeEach(() => {
    dir = tempDir();
    store = openStore(dir.path);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
    dir.cleanup();
  });

  test('a committed lease is visible at once, to the main connection too, and sync resolves', async () => {
    store.leases.upsertMany([lease(10)]);
    expect(store.leases.byMac(lease(10).mac)).toMatchObject({ ip: '192.0.2.10' });
    expect(store.db.prepare('SELECT ip FROM leases WHERE mac = ?').get(lease(10).mac)).toEqual({ ip: '192.0.2.10' });
    await expect(store.leases.sync()).resolves.toBeUndefined();
  });

  test('callers during a flush share the next one: many syncs, at most two fdatasyncs', async () => {
    store.leases.upsertMany([lease(1)]);
    await store.leases.sync(); // opens the WAL descriptor
    const handle = await open(`${dir.path}/netboot.db-wal`, 'r');
    const datasync = vi.spyOn(Object.getPrototypeOf(handle) as { datasync(): Promise<void> }, 'datasync');
    await handle.close();
    const waits = [];
    for (let n = 2; n < 22; n++) {
      store.leases.upsertMany([lease(n)]);
      waits.push(store.leases.sync());
    }
    await Promise.all(waits);
    expect(datasync.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(datasync.mock.calls.length).toBeLessThanOrEqual(2);
  });

  test('events written behind (on the lease connection) are seen by the main one, and adoption inside a transaction works', async () => {
    store.events.record({ mac: '52:54:00:00:00:99', type: 'dhcp-offer', detail: '192.0.2.99' });
    const count = () => (store.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    expect(count()).toBe(0); // still queued
    await expect.poll(count, { timeout: 2000, interval: 20 }).toBe(1);
    // enlist() adopts inside its own transaction on the main connection: the queued event is written
    // there too, not on the other connection (which would wait for the lock the transaction holds).
    store.events.record({ mac: '52:54:00:12:34:56', type: 'dhcp-ack', detail: '192.0.2.100' });
    const { machine } = store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs));
    expect(store.events.forMachine(machine.id).map((e) => e.type)).toEqual(['dhcp-ack']);
  });

  test('a state change is written at the end of the turn; DHCP packet events wait for the batch', async () => {
    const count = (type: string) => (store.db.prepare('SELECT count(*) AS n FROM events WHERE type = ?').get(type) as { n: number }).n;
    store.events.record({ mac: '52:54:00:00:00:98', type: 'dhcp-ack', detail: '192.0.2.98' });
    store.events.record({ mac: '52:54:00:00:00:98', type: 'state', detail: 'New -> Commissioning' });
    await new Promise((resolve) => setImmediate(resolve));
    // The state event took the queued DHCP event with it, in one transaction.
    expect([count('state'), count('dhcp-ack')]).toEqual([1, 1]);
    store.events.record({ mac: '52:54:00:00:00:98', type: 'dhcp-offer', detail: '192.0.2.98' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(count('dhcp-offer')).toBe(0);
    await expect.poll(() => count('dhcp-offer'), { timeout: 2000, interval: 10 }).toBe(1);
  });

  test('leases survive closing and reopening the store', async () => {
    store.leases.upsertMany([lease(3), lease(4)]);
    await store.leases.sync();
    await store.close();
    store = openStore(dir.path);
    expect(store.leases.all().map((l) => l.ip)).toEqual(['192.0.2.3', '192.0.2.4']);
  });
});

describe('WalSync', () => {
  test('a missing WAL rejects with the reason, and a closed one refuses', async () => {
    const dir = tempDir();
    try {
      const sync = new WalSync(`${dir.path}/absent.db-wal`);
      await expect(sync.sync()).rejects.toThrow(/ENOENT/);
      await sync.close();
      await expect(sync.sync()).rejects.toThrow(/closed/);
    } finally {
      dir.cleanup();
    }
  });
});
