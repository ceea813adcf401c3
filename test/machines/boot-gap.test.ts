// The ACK -> script wait of each iPXE boot on its timeline (issue 17), through a real store.
import { afterEach, beforeEach, expect, test } from 'vitest';
import { join } from 'node:path';
import { BootGapEvents } from '../../src/machines/boot-gap.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/fixtures.js';

const mac = '52:54:00:12:34:56';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let clock: number;
let events: BootGapEvents;

beforeEach(() => {
  dir = tempDir();
  store = openStore(join(dir.path, 'data'));
  clock = 1_000_000;
  events = new BootGapEvents(store.events, () => clock);
});

afterEach(async () => {
  await store.close();
  dir.cleanup();
});

const scripts = () => store.events.since(0).filter((e) => e.type === 'ipxe-script').map((e) => [e.detail, e.data]);

test('the script request says how long after the DHCP ACK it came, once per ACK', () => {
  events.record({ mac, type: 'dhcp-ack', detail: '10.0.0.5' });
  clock += 14_800; // iPXE waiting for IPv6 router discovery
  events.record({ mac, type: 'ipxe-script', detail: 'enlist' });
  clock += 30_000;
  events.record({ mac, type: 'ipxe-script', detail: 'enlist' }); // the retry script asking again
  expect(scripts()).toEqual([['enlist', { sinceAckMs: 14_800 }], ['enlist', undefined]]);
});

test('no ACK, another MAC\'s ACK, or an ACK of an earlier boot: the event is left as it was', () => {
  events.record({ mac: '52:54:00:00:00:01', type: 'dhcp-ack', detail: '10.0.0.6' });
  events.record({ mac, type: 'ipxe-script', detail: 'enlist' });
  events.record({ mac, type: 'dhcp-ack', detail: '10.0.0.5' });
  clock += 300_000;
  events.record({ mac, type: 'ipxe-script', detail: 'commission' });
  expect(scripts()).toEqual([['enlist', undefined], ['commission', undefined]]);
});
