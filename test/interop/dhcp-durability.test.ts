// Durability of the DHCP server (ARCHITECTURE.md "A lease is written before the ACK that grants it
// leaves the socket. A restart loses nothing"), with `netboot serve` as a real process in a network
// namespace: 200 MACs run DORA from a client namespace, the server is SIGKILLed in the middle of the
// run, and restarted on the same data dir while the clients keep retrying. Every ACK a client saw
// must be a bound lease on disk (read before the restart), every MAC gets its address back after the
// restart (INIT-REBOOT and DISCOVER), and no address is ever ACKed to two MACs. Needs root.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Launched } from '../../src/lab/launcher.js';
import { listNamespaces } from '../../src/lab/netns.js';
import { MessageType } from '../../src/dhcp/codec/index.js';
import { tempDir } from '../support/fixtures.js';
import { dataDirOf, inRange, leases, startAppliance, waitUntil, type LeaseRow } from './support/appliance.js';
import { DhcpLoadClient, forEachBounded, type Ack } from './support/dhcp-load.js';
import { createBootNetwork, missingPrerequisites, routeBroadcast, type BootNetwork } from './support/namespaces.js';

const missing = missingPrerequisites([]);
const macCount = 200;
/** The server is killed when this many ACKs have arrived: well inside the run. */
const killAfter = 80;
const concurrency = 16;
/** Per-transaction wait before a retry; the restart gap (about 1 s) costs a client one or two. */
const retryMs = 1000;
const macs = Array.from({ length: macCount }, (_, i) => `02:6e:62:d0:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`);

if (missing !== undefined) console.warn(`test/interop/dhcp-durability.test.ts skipped: ${missing}`);

describe.skipIf(missing !== undefined)(`DHCP leases survive SIGKILL of netboot serve${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let dir: ReturnType<typeof tempDir>;
  let network: BootNetwork | undefined;
  let appliance: Launched | undefined;
  let client: DhcpLoadClient | undefined;
  let run: Promise<Map<string, string>> | undefined;
  let ackedBeforeKill: Ack[] = [];
  const setup = () => ({
    dir: dir.path, serverAddress: '10.215.0.1', subnet: '10.215.0.0/24', pool: { start: '10.215.0.10', end: '10.215.0.250' }, leaseTime: 600,
  });
  const storeByMac = () => new Map(leases(dataDirOf(dir.path)).map((row): [string, LeaseRow] => [row.mac, row]));

  beforeAll(async () => {
    dir = tempDir('nb-interop-durability-');
    network = createBootNetwork('dura', setup().serverAddress, 24, 1);
    const ns = network.clients[0]!;
    routeBroadcast(ns);
    appliance = await startAppliance(network.server, setup());
    client = await DhcpLoadClient.start(ns);
  });

  afterAll(async () => {
    const names = network ? [network.server.name, ...network.clients.map((c) => c.name)] : [];
    try {
      await client?.stop();
      await appliance?.stop(5000);
    } finally {
      network?.destroy();
      dir.cleanup();
    }
    expect(listNamespaces().filter((ns) => names.includes(ns))).toEqual([]);
  }, 30_000);

  test(`every lease ACKed before a SIGKILL is bound on disk (${killAfter} of ${macCount} ACKed at the kill)`, async () => {
    const killed = appliance!;
    // Killed from the ACK callback itself, so the kill lands while the other transactions are in flight.
    client!.onAck(() => {
      if (client!.acks.length === killAfter && killed.running) process.kill(killed.pid, 'SIGKILL');
    });
    run = client!.acquireAll(macs, { concurrency, retryMs, deadline: Date.now() + 60_000 });
    expect(await waitUntilExit(killed)).toBe('SIGKILL');
    ackedBeforeKill = [...client!.acks];
    expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(killAfter);
    expect(ackedBeforeKill.length, 'the kill came in the middle of the run').toBeLessThan(macCount);

    // Read from the file the dead process left (WAL included), before anything reopens it.
    const stored = storeByMac();
    const lost = ackedBeforeKill.filter((ack) => stored.get(ack.mac)?.ip !== ack.ip || stored.get(ack.mac)?.state !== 'bound');
    expect(lost, 'ACKed but not bound on disk').toEqual([]);
  }, 30_000);

  test(`restarted on the same data dir, it serves the rest: all ${macCount} MACs hold a lease`, async () => {
    const restartedAt = Date.now();
    appliance = await startAppliance(network!.server, setup());
    console.log(`restarted in ${Date.now() - restartedAt} ms; ${ackedBeforeKill.length} ACKs before the kill`);
    const granted = await run!;
    expect(macs.filter((mac) => !granted.has(mac)), 'MACs without a lease at the deadline').toEqual([]);
    const stored = storeByMac();
    for (const [mac, ip] of granted) {
      expect(stored.get(mac), mac).toMatchObject({ ip, state: 'bound' });
      expect(inRange(ip, setup().pool), ip).toBe(true);
    }
  }, 90_000);

  test('after the restart every MAC gets its own address back (INIT-REBOOT and DISCOVER)', async () => {
    const before = storeByMac();
    const wrong: string[] = [];
    await forEachBounded(macs, concurrency, async (mac) => {
      const ip = before.get(mac)!.ip;
      const deadline = Date.now() + 20_000;
      // RFC 2131 §4.3.2 INIT-REBOOT: option 50, no server id, no ciaddr; the server must confirm it.
      const ack = await client!.ask(mac, { messageType: MessageType.request, requestedAddress: ip }, retryMs, deadline);
      if (ack?.options.messageType !== MessageType.ack || ack.yiaddr !== ip) wrong.push(`${mac} INIT-REBOOT ${ip}: ${describe_(ack)}`);
      const offer = await client!.ask(mac, { messageType: MessageType.discover }, retryMs, deadline);
      if (offer?.options.messageType !== MessageType.offer || offer.yiaddr !== ip) wrong.push(`${mac} DISCOVER: ${describe_(offer)}, had ${ip}`);
    });
    expect(wrong).toEqual([]);
    const after = storeByMac();
    for (const mac of macs) expect(after.get(mac)!.expires_at, mac).toBeGreaterThanOrEqual(before.get(mac)!.expires_at);
  }, 60_000);

  test('no address was ever ACKed to two MACs, nor two addresses to one MAC', () => {
    const byIp = groupSets(client!.acks, (ack) => ack.ip, (ack) => ack.mac);
    const byMac = groupSets(client!.acks, (ack) => ack.mac, (ack) => ack.ip);
    expect([...byIp].filter(([, owners]) => owners.size > 1)).toEqual([]);
    expect([...byMac].filter(([, ips]) => ips.size > 1)).toEqual([]);
    expect(byMac.size).toBe(macCount);
  });
});

function waitUntilExit(process_: Launched): Promise<NodeJS.Signals | number | null> {
  return waitUntil('the appliance to be killed', 20_000, () => (process_.running ? undefined : true))
    .then(() => process_.exited).then((status) => status.signal ?? status.code);
}

function describe_(reply: { options: { messageType?: number }; yiaddr: string } | undefined): string {
  return reply ? `type ${reply.options.messageType} yiaddr ${reply.yiaddr}` : 'no reply';
}

function groupSets<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => string): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  for (const item of items) {
    const set = groups.get(key(item)) ?? new Set<string>();
    set.add(value(item));
    groups.set(key(item), set);
  }
  return groups;
}
