// DHCP packet event retention against a real SQLite store: what goes, what stays, in steps.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import pino from 'pino';
import { join } from 'node:path';
import { startAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { EventRetention } from '../../src/store/event-retention.js';
import type { EventType } from '../../src/machines/boot.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';

const day = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });

describe('DHCP event retention', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let clock = 1_700_000_000_000;
  beforeEach(() => {
    dir = tempDir();
    clock = 1_700_000_000_000;
    store = openStore(dir.path, () => clock);
  });
  afterEach(async () => {
    await store.close();
    dir.cleanup();
  });

  const record = (mac: string, type: EventType, detail = '') => store.events.record({ mac, type, detail });
  const remaining = () => store.events.since(0, 100_000).map((e) => `${e.mac.slice(-2)} ${e.type} ${e.detail}`);
  const retention = (days: number, batch = 3) => new EventRetention(store.events, { dhcpRetentionDays: days, log: silent, now: () => clock, batch });

  test('DHCP packet events older than the limit go, of machines and of strangers; the rest of the timeline stays', async () => {
    const machineMac = sampleInventory().nics[0]!.mac;
    record(machineMac, 'dhcp-offer', 'old');
    record('52:54:00:aa:aa:aa', 'dhcp-ack', 'old stranger');
    store.events.flush();
    store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs));
    record(machineMac, 'enlisted', 'old');
    record(machineMac, 'dhcp-release', 'old');
    for (let i = 0; i < 10; i++) record('52:54:00:bb:bb:bb', 'dhcp-discover', `old ${i}`);
    record(machineMac, 'state', 'old');
    store.events.flush();
    clock += 31 * day;
    record(machineMac, 'dhcp-ack', 'young');
    record('52:54:00:aa:aa:aa', 'dhcp-offer', 'young stranger');
    store.events.flush();

    expect(await retention(30).run()).toBe(13);
    expect(remaining()).toEqual([
      `${machineMac.slice(-2)} enlisted old`, `${machineMac.slice(-2)} state old`,
      `${machineMac.slice(-2)} dhcp-ack young`, 'aa dhcp-offer young stranger',
    ]);
    expect(await retention(30).run()).toBe(0); // nothing left to do
  });

  test('the limit is in days from now: 29 days old stays with 30, goes with 7', async () => {
    record('52:54:00:aa:aa:aa', 'dhcp-ack', 'a');
    store.events.flush();
    clock += 29 * day;
    expect(await retention(30).run()).toBe(0);
    expect(await retention(7).run()).toBe(1);
    expect(remaining()).toEqual([]);
  });

  test('0 keeps DHCP events for ever: start() schedules nothing and a run deletes nothing', async () => {
    record('52:54:00:aa:aa:aa', 'dhcp-ack', 'a');
    store.events.flush();
    clock += 10_000 * day;
    const keepAll = retention(0);
    keepAll.start();
    expect(await keepAll.run()).toBe(0);
    await keepAll.close();
    expect(remaining()).toHaveLength(1);
  });

  test('close() stops a long run at its next step; the next run finishes the job', async () => {
    for (let i = 0; i < 500; i++) record('52:54:00:aa:aa:aa', 'dhcp-discover', String(i));
    store.events.flush();
    clock += 60 * day;
    const first = retention(30, 10);
    const run = first.run();
    await first.close();
    const deleted = await run;
    expect(deleted).toBeLessThan(500);
    expect(remaining()).toHaveLength(500 - deleted);
    expect(await retention(30, 10).run()).toBe(500 - deleted);
    expect(remaining()).toEqual([]);
  });

  test('start() runs at once, in the background, and close() waits for it', async () => {
    record('52:54:00:aa:aa:aa', 'dhcp-ack', 'a');
    store.events.flush();
    clock += 31 * day;
    const scheduled = retention(30);
    scheduled.start();
    await scheduled.run(); // joins the run start() began
    await scheduled.close();
    expect(remaining()).toEqual([]);
  });
});

test('the appliance prunes at start what a previous run left, and keeps the rest', async () => {
  const dir = tempDir();
  const longAgo = Date.now() - 45 * day;
  const old = openStore(dir.path, () => longAgo);
  const { machine } = old.machines.enlist(sampleInventory(), () => undefined);
  old.events.record({ mac: machine.bootMac!, type: 'dhcp-ack', detail: '10.0.0.9' });
  old.events.record({ mac: machine.bootMac!, type: 'note', detail: 'kept' });
  // Anyone on the boot network can make events for a MAC no machine owns: those go too (probe F4).
  old.events.record({ mac: '52:54:00:aa:aa:aa', type: 'ipxe-script', detail: 'enlist' });
  await old.close();
  const config = loadConfig({
    overrides: {
      dataDir: dir.path, 'http.host': '127.0.0.1', 'http.port': 0, 'api.port': 0, 'tftp.enabled': false,
      'http.publicUrl': 'http://127.0.0.1:8080', 'cloudInit.schemaCheck': 'off', 'events.dhcpRetentionDays': 30,
    },
  });
  const appliance = await startAppliance({ config, log: silent, imagesDir: join(dir.path, 'images') });
  try {
    const deadline = Date.now() + 5000;
    while (appliance.store.events.since(0).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(appliance.store.events.since(0).map((e) => e.type)).toEqual(['note']);
  } finally {
    await appliance.close();
    dir.cleanup();
  }
});
