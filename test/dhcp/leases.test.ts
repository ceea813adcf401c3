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

/** planOffer + commit, as respond + server do; returns the address. */
function offer(p: LeasePool, mac: string, now = T0, requested?: string): string | undefined {
  const plan = p.planOffer(mac, requested, now);
  if (!plan.ok) return undefined;
  if (plan.write) p.commit(plan.write);
  return plan.ip;
}

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
    expect(p.planOffer(macA, undefined, T0)).toEqual({ ok: true, ip: '10.213.7.150' });
  });

  test('never-used addresses go first, so a released address waits for its former owner', () => {
    const { pool: p } = pool([{ mac: macA, ip: '10.213.7.100', state: 'released', expiresAt: T0 - 1 }]);
    expect(offer(p, macB)).toBe('10.213.7.101');
    expect(offer(p, macA)).toBe('10.213.7.100');
  });

  test('moving a client to another address frees its old one', () => {
    const { pool: p, store } = pool([], { pool: { start: '10.213.7.100', end: '10.213.7.101' } });
    offer(p, macA); // .100
    p.commit(p.planBind(macA, '10.213.7.101', T0));
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
    expect(p.status('10.213.7.100', macB, T0)).toBe('quarantined');
    expect(offer(p, macA)).toBe('10.213.7.101');
    expect(p.status('10.213.7.100', macB, T0 + 1000)).toBe('quarantined');
    expect(p.status('10.213.7.100', macB, T0 + 3_600_000)).toBe('free');
  });

  test('a large pool hands out addresses without rescanning the store each time', () => {
    const { pool: p, store } = pool([], { subnet: '10.0.0.0/16', serverAddress: '10.0.0.1', router: undefined, pool: { start: '10.0.1.0', end: '10.0.255.254' } });
    let all = 0;
    const original = store.all.bind(store);
    store.all = () => { all += 1; return original(); };
    for (let i = 0; i < 5000; i++) offer(p, `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`);
    expect(store.all().length).toBe(5001 - 1);
    expect(all).toBe(1); // only the call just above
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
    expect(pool(leases).pool.status(ip, mac, T0)).toBe(want);
  });
});
