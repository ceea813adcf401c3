// Interop of the DHCP server (full mode) with the clients Linux machines really run: ISC dhclient,
// busybox udhcpc and dhcpcd, against `netboot serve` as a real process. The appliance serves in a
// network namespace with a bridge; each client runs in a namespace of its own, plugged into the
// bridge by a veth pair. For each client: a lease (applied to its interface, in the pool, distinct
// from the others'), a renewal (a later expiry in the store, one more ACK) and a release (state
// 'released' in the store, address gone). Needs root and the three clients (scripts/install-deps.sh).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Launched } from '../../src/lab/launcher.js';
import { listNamespaces } from '../../src/lab/netns.js';
import { tempDir } from '../support/fixtures.js';
import { dataDirOf, eventCount, inRange, leaseOf, startAppliance, waitUntil, type LeaseRow } from './support/appliance.js';
import { allClients, type DhcpClientKind, type RunningClient } from './support/dhcp-clients.js';
import { createBootNetwork, missingPrerequisites, type BootNetwork, type ClientNamespace } from './support/namespaces.js';

const missing = missingPrerequisites(allClients);
const setupOf = (dir: string) => ({
  dir, serverAddress: '10.214.0.1', subnet: '10.214.0.0/24', pool: { start: '10.214.0.100', end: '10.214.0.199' },
  // Long enough that no client renews by itself (T1 = 300 s) while a test waits for the renewal it asked for.
  leaseTime: 600,
});

if (missing !== undefined) console.warn(`test/interop/dhcp-clients.test.ts skipped: ${missing}`);

describe.skipIf(missing !== undefined)(`real DHCP clients against netboot serve in network namespaces${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let dir: ReturnType<typeof tempDir>;
  let network: BootNetwork | undefined;
  let appliance: Launched | undefined;
  const running = new Map<string, RunningClient>();
  const namespaces = new Map<string, ClientNamespace>();
  const granted = new Map<string, LeaseRow>();
  const setup = () => setupOf(dir.path);
  const dataDir = () => dataDirOf(dir.path);

  beforeAll(async () => {
    dir = tempDir('nb-interop-dhcp-');
    network = createBootNetwork('dhcp', setup().serverAddress, 24, allClients.length);
    allClients.forEach((kind, i) => namespaces.set(kind.name, network!.clients[i]!));
    appliance = await startAppliance(network.server, setup());
  });

  afterAll(async () => {
    const names = network ? [network.server.name, ...network.clients.map((c) => c.name)] : [];
    try {
      await Promise.allSettled([...running.values()].map((c) => c.stop()));
      await appliance?.stop(5000);
    } finally {
      network?.destroy();
      dir.cleanup();
    }
    // Hygiene is part of the contract: nothing of ours is left, even when a test failed.
    expect(listNamespaces().filter((ns) => names.includes(ns))).toEqual([]);
  }, 30_000);

  /** The client's output and the appliance's, for a failure message. */
  const context = (kind: DhcpClientKind) => () =>
    `${kind.name} output:\n${running.get(kind.name)?.process.tail(15) ?? '(not started)'}\nappliance:\n${appliance?.tail(10) ?? ''}`;

  test.each(allClients)('$name gets a lease, applied to its interface', async (kind) => {
    const ns = namespaces.get(kind.name)!;
    running.set(kind.name, await kind.start(ns, dir.path));
    const address = await waitUntil(`${kind.name} to apply an address`, 20_000, () => ns.addresses()[0], context(kind));
    expect(inRange(address, setup().pool), `${address} in the pool`).toBe(true);
    const lease = await waitUntil(`a bound lease of ${ns.mac}`, 5000, () => {
      const row = leaseOf(dataDir(), ns.mac);
      return row?.state === 'bound' ? row : undefined;
    });
    expect(lease.ip).toBe(address);
    expect(lease.expires_at).toBeGreaterThan(Date.now() + 500_000);
    granted.set(kind.name, lease);
  });

  test('the three clients hold three distinct addresses', () => {
    const ips = allClients.map((kind) => granted.get(kind.name)?.ip);
    expect(ips.every(Boolean), 'every client got a lease').toBe(true);
    expect(new Set(ips).size).toBe(allClients.length);
  });

  test.each(allClients)('$name renews: same address, one more ACK, later expiry in the store', async (kind) => {
    const ns = namespaces.get(kind.name)!;
    const before = granted.get(kind.name)!;
    const acks = eventCount(dataDir(), ns.mac, 'dhcp-ack');
    await running.get(kind.name)!.renew();
    // Events are written at the end of the appliance's loop turn, after the lease (events-repo.ts).
    const renewed = await waitUntil(`${kind.name} to renew`, 15_000, () => {
      const row = leaseOf(dataDir(), ns.mac);
      return row && row.expires_at > before.expires_at && eventCount(dataDir(), ns.mac, 'dhcp-ack') > acks ? row : undefined;
    }, context(kind));
    expect(renewed).toMatchObject({ ip: before.ip, state: 'bound' });
    // Still configured after the renewal (dhclient's second run re-applies it on REBOOT).
    await waitUntil(`${kind.name} to keep ${before.ip}`, 5000, () => (ns.addresses().includes(before.ip) ? true : undefined), context(kind));
    granted.set(kind.name, renewed);
  });

  test.each(allClients)('$name releases: state released in the store, address gone', async (kind) => {
    const ns = namespaces.get(kind.name)!;
    await running.get(kind.name)!.release();
    const released = await waitUntil(`the release of ${ns.mac}`, 15_000, () => {
      const row = leaseOf(dataDir(), ns.mac);
      return row?.state === 'released' && eventCount(dataDir(), ns.mac, 'dhcp-release') > 0 ? row : undefined;
    }, context(kind));
    expect(released.ip).toBe(granted.get(kind.name)!.ip);
    expect(eventCount(dataDir(), ns.mac, 'dhcp-release')).toBe(1);
    await waitUntil(`${kind.name} to remove its address`, 5000, () => (ns.addresses().length === 0 ? true : undefined), context(kind));
  });
});
