import { describe, expect, test } from 'vitest';
import type { DhcpConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import type { Lease } from '../../src/dhcp/lease-store.js';
import { LeasePool, type AddressStatus } from '../../src/dhcp/leases.js';
import { InMemoryLeaseStore, testConfig } from './fakes.js';

const T0 = 1_700_000_000_000;
const macA = '52:54:00:00:00:0a';
const macB = '52:54:00:00:00:0b';
const macC = '52:54:00:00:00:0c';

function pool(leases: Lease[] = [], config: Partial<DhcpConfig> = {}, now = T0) {
  const store = new InMemoryLeaseStore(leases);
  return { store, pool: new LeasePool(store, { ...testConfig, ...config }, now) };
}

/** planOffer + hold, as respond + server do; returns the address. */
function offer(p: LeasePool, mac: string, now = T0, requested?: string): string | undefined {
  const plan = p.planOffer(p.network.local, mac, requested, now);
  if (!plan.ok) return undefined;
  p.hold(plan.offer);
  return plan.ip;
}

/** planBind + commit + flush, as an ACK does. */
function bind(p: LeasePool, mac: string, ip: string, now = T0): void {
  p.commit(p.planBind(p.network.local, mac, ip, now));
  p.flush(now);
}

const status = (p: LeasePool, ip: string, mac: string, now = T0) => p.status(p.network.local, ip, mac, now);

describe('configuration', () => {
  const invalid: { name: string; config: Partial<DhcpConfig> }[] = [
    { name: 'subnet not CIDR', config: { subnet: '10.213.7.0' } },
    { name: 'prefix /31', config: { subnet: '10.213.7.0/31' } },
    { name: 'pool start outside subnet', config: { pool: { start: '10.9.9.1', end: '10.213.7.199' } } },
    { name: 'pool end before start', config: { pool: { start: '10.213.7.199', end: '10.213.7.100' } } },
    { name: 'server outside subnet', config: { serverAddress: '192.168.0.1' } },
    { name: 'router outside subnet', config: { router: '192.168.0.1' } },
  ];
  test.each(invalid)('$name is a ConfigError', ({ config }) => {
    expect(() => pool([], config)).toThrow(ConfigError);
  });
});

describe('address choice', () => {
  test('never hands out the server, the router, the network or the broadcast address', () => {
    const { pool: p } = pool([], {
      subnet: '10.213.7.0/29', serverAddress: '10.213.7.2', router: '10.213.7.3',
      pool: { start: '10.213.7.0', end: '10.213.7.7' },
    });
    const given = [macA, macB, macC, '52:54:00:00:00:0d', '52:54:00:00:00:0e'].map((m) => offer(p, m));
    expect(given).toEqual(['10.213.7.1', '10.213.7.4', '10.213.7.5', '10.213.7.6', undefined]);
  });

  test('one lease per MAC: a second DISCOVER gets the same address', () => {
    const { pool: p } = pool();
    expect([offer(p, macA), offer(p, macA), offer(p, macB)]).toEqual(['10.213.7.100', '10.213.7.100', '10.213.7.101']);
  });

  test('a bound, unexpired lease is offered again without rewriting it', () => {
    const { pool: p } = pool([{ mac: macA, ip: '10.213.7.150', state: 'bound', expiresAt: T0 + 1000 }]);
    expect(p.planOffer(p.network.local, macA, undefined, T0)).toMatchObject({ ok: true, ip: '10.213.7.150' });
  });

  test('never-used addresses go first, so a released address waits for its former owner', () => {
    const { pool: p } = pool([{ mac: macA, ip: '10.213.7.100', state: 'released', expiresAt: T0 - 1 }]);
    expect(offer(p, macB)).toBe('10.213.7.101');
    expect(offer(p, macA)).toBe('10.213.7.100');
  });

  test('moving a client to another address frees its old one', () => {
    const { pool: p, store } = pool([], { pool: { start: '10.213.7.100', end: '10.213.7.101' } });
    offer(p, macA); // .100
    bind(p, macA, '10.213.7.101');
    expect(store.byIp('10.213.7.100')).toBeUndefined();
    expect(offer(p, macB)).toBe('10.213.7.100');
  });

  test('when the pool is used up, expired leases are reclaimed, oldest first', () => {
    const { pool: p } = pool([], { pool: { start: '10.213.7.100', end: '10.213.7.102' } });
    p.commit({ mac: macA, ip: '10.213.7.100', state: 'bound', expiresAt: T0 + 5000 });
    p.commit({ mac: macB, ip: '10.213.7.101', state: 'bound', expiresAt: T0 + 2000 });
    p.commit({ mac: macC, ip: '10.213.7.102', state: 'bound', expiresAt: T0 + 9000 });
    const late = '52:54:00:00:00:0d';
    expect(offer(p, late, T0 + 1000)).toBeUndefined();
    expect(offer(p, late, T0 + 6000)).toBe('10.213.7.101');
  });

  test('startup recycles the store\'s expired and released leases', () => {
    const { pool: p } = pool([
      { mac: macA, ip: '10.213.7.100', state: 'bound', expiresAt: T0 - 10 },
      { mac: macB, ip: '10.213.7.101', state: 'released', expiresAt: T0 - 500 },
    ], { pool: { start: '10.213.7.100', end: '10.213.7.101' } });
    expect(offer(p, macC)).toBe('10.213.7.101');
  });

  test('a declined address stays out for one lease time, across a restart', () => {
    const declined: Lease = { mac: macA, ip: '10.213.7.100', state: 'declined', expiresAt: T0 + 3_600_000 };
    const { pool: p } = pool([declined]);
    expect(status(p, '10.213.7.100', macB)).toBe('quarantined');
    expect(offer(p, macA)).toBe('10.213.7.101');
    expect(status(p, '10.213.7.100', macB, T0 + 1000)).toBe('quarantined');
    expect(status(p, '10.213.7.100', macB, T0 + 3_600_000)).toBe('free');
  });

  test('a large pool hands out addresses without rescanning the store each time', () => {
    const { pool: p, store } = pool([], { subnet: '10.0.0.0/16', serverAddress: '10.0.0.1', router: undefined, pool: { start: '10.0.1.0', end: '10.0.255.254' } });
    let all = 0;
    const original = store.all.bind(store);
    store.all = () => { all += 1; return original(); };
    for (let i = 0; i < 5000; i++) {
      const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
      p.commit(p.planBind(p.network.local, mac, offer(p, mac)!, T0));
    }
    p.flush(T0);
    expect(store.all().length).toBe(5000);
    expect(all).toBe(1); // only the call just above: planning never reads the store
    expect(store.transactions).toBe(1); // one group commit for all 5000
  });
});

describe('status', () => {
  const leases: Lease[] = [
    { mac: macA, ip: '10.213.7.100', state: 'bound', expiresAt: T0 + 1000 },
    { mac: macB, ip: '10.213.7.101', state: 'offered', expiresAt: T0 - 1 },
    { mac: macC, ip: '10.213.7.102', state: 'released', expiresAt: T0 - 1 },
  ];
  const cases: { ip: string; mac: string; want: AddressStatus }[] = [
    { ip: '10.213.7.100', mac: macA, want: 'held-by-client' },
    { ip: '10.213.7.100', mac: macB, want: 'held-by-other' },
    { ip: '10.213.7.101', mac: macA, want: 'free' },
    { ip: '10.213.7.102', mac: macA, want: 'free' },
    { ip: '10.213.7.150', mac: macA, want: 'free' },
    { ip: '10.213.7.1', mac: macA, want: 'outside-pool' },
    { ip: '10.213.7.20', mac: macA, want: 'outside-pool' },
    { ip: '10.9.9.9', mac: macA, want: 'outside-subnet' },
    { ip: 'nonsense', mac: macA, want: 'outside-subnet' },
  ];
  test.each(cases)('$ip for $mac is $want', ({ ip, mac, want }) => {
    expect(status(pool(leases).pool, ip, mac)).toBe(want);
  });
});

describe('offers, commits and flushes', () => {
  test('an offer is held in memory only, and keeps the address from others until it expires', () => {
    const { pool: p, store } = pool([], { offerTimeout: 30 });
    expect(offer(p, macA)).toBe('10.213.7.100');
    expect(store.writes).toEqual([]);
    expect(status(p, '10.213.7.100', macB)).toBe('held-by-other');
    expect(offer(p, macB)).toBe('10.213.7.101');
    expect(status(p, '10.213.7.100', macB, T0 + 31_000)).toBe('free');
  });

  test('a commit is visible at once and durable only after flush', () => {
    const { pool: p, store } = pool();
    p.commit(p.planBind(p.network.local, macA, '10.213.7.120', T0));
    expect(status(p, '10.213.7.120', macB)).toBe('held-by-other');
    expect(store.byMac(macA)).toBeUndefined();
    expect(p.unflushed).toBe(1);
    p.flush(T0);
    expect(store.byMac(macA)).toMatchObject({ ip: '10.213.7.120', state: 'bound' });
  });

  test('a failed flush throws and rebuilds memory from what is on disk', () => {
    const { pool: p, store } = pool();
    p.commit(p.planBind(p.network.local, macA, '10.213.7.120', T0));
    store.failNextWrite = true;
    expect(() => p.flush(T0)).toThrow('disk full');
    expect(p.leaseOf(macA)).toBeUndefined();
    expect(status(p, '10.213.7.120', macB)).toBe('free');
  });
});

describe('reservations', () => {
  const reservations = [{ mac: macA, ip: '10.213.7.50', hostname: 'rack1-n1' }];

  test('the reserved client gets its address (even outside the pool) and hostname', () => {
    const { pool: p } = pool([], { reservations });
    expect(offer(p, macA)).toBe('10.213.7.50');
    expect(p.planBind(p.network.local, macA, '10.213.7.50', T0)).toMatchObject({ hostname: 'rack1-n1' });
  });

  test('nobody else gets a reserved address', () => {
    const { pool: p } = pool([], { reservations: [{ mac: macA, ip: '10.213.7.100' }] });
    expect(status(p, '10.213.7.100', macB)).toBe('reserved-for-other');
    expect(offer(p, macB)).toBe('10.213.7.101');
  });

  test.each([
    { name: 'outside every subnet', reservations: [{ mac: macA, ip: '10.9.9.9' }] },
    { name: 'the same MAC twice', reservations: [{ mac: macA, ip: '10.213.7.50' }, { mac: macA, ip: '10.213.7.51' }] },
    { name: 'one address for two MACs', reservations: [{ mac: macA, ip: '10.213.7.50' }, { mac: macB, ip: '10.213.7.50' }] },
    { name: 'the server address', reservations: [{ mac: macA, ip: '10.213.7.1' }] },
  ])('a reservation $name is a ConfigError', ({ reservations: bad }) => {
    expect(() => pool([], { reservations: bad })).toThrow(ConfigError);
  });
});

describe('relayed segments', () => {
  const relaySubnets = [{ subnet: '10.50.0.0/24', pool: { start: '10.50.0.10', end: '10.50.0.20' }, router: '10.50.0.1', dns: [], ntp: [], leaseTime: 600 }];

  test('each segment allocates from its own pool with its own lease time', () => {
    const { pool: p } = pool([], { relaySubnets });
    const relayed = p.network.segments[1]!;
    const plan = p.planOffer(relayed, macA, undefined, T0);
    expect(plan).toMatchObject({ ok: true, ip: '10.50.0.10' });
    expect(p.planBind(relayed, macA, '10.50.0.10', T0).expiresAt).toBe(T0 + 600_000);
    expect(offer(p, macB)).toBe('10.213.7.100');
  });

  test('a client moving between segments frees its old address in the old segment', () => {
    const { pool: p } = pool([], { relaySubnets, pool: { start: '10.213.7.100', end: '10.213.7.100' } });
    bind(p, macA, '10.213.7.100');
    p.commit(p.planBind(p.network.segments[1]!, macA, '10.50.0.10', T0));
    p.flush(T0);
    expect(offer(p, macB)).toBe('10.213.7.100');
  });

  test.each([
    { name: 'overlapping subnets', config: { relaySubnets: [{ ...relaySubnets[0]!, subnet: '10.213.0.0/16', pool: { start: '10.213.9.1', end: '10.213.9.9' } }] } },
    { name: 'a placement rule naming an unknown subnet', config: { placement: [{ match: { circuitId: 'x' }, subnet: '10.99.0.0/24' }] } },
  ])('$name is a ConfigError', ({ config }) => {
    expect(() => pool([], config)).toThrow(ConfigError);
  });
});
