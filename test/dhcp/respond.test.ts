import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { BootDecision, LoaderChoice } from '../../src/dhcp/boot-file.js';
import {
  BROADCAST_FLAG, decodeDhcp, encodeDhcp, formatHex, MessageType, messageTypeName, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';
import type { Lease } from '../../src/dhcp/lease-store.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { respond, type Outcome } from '../../src/dhcp/respond.js';
import type { DhcpConfig } from '../../src/config/schema.js';
import {
  clientPacket, enlistSpec, firmwareOptions, InMemoryLeaseStore, scriptUrl, testConfig,
} from './fakes.js';

const T0 = 1_700_000_000_000;
const mac = '52:54:00:12:34:56';
const other = '52:54:00:00:00:02';
const boot: BootDecision = { kind: 'boot', spec: enlistSpec };
const noBoot: BootDecision = { kind: 'not-a-boot-client' };
const bound = (ip: string, who = mac): Lease => ({ mac: who, ip, state: 'bound', expiresAt: T0 + 1_800_000 });

interface Case {
  name: string;
  request: DhcpPacket;
  boot?: BootDecision;
  leases?: Lease[];
  config?: Partial<DhcpConfig>;
  bootScriptUrl?: (mac: string) => string;
  loaders?: LoaderChoice;
  want: Record<string, unknown>;
}

interface Run {
  outcome: Outcome;
  store: InMemoryLeaseStore;
  pool: LeasePool;
}

function run(c: Omit<Case, 'name' | 'want'>): Run {
  const config = { ...testConfig, ...c.config };
  const store = new InMemoryLeaseStore(c.leases);
  const pool = new LeasePool(store, config, T0);
  const outcome = respond(
    { config, leases: pool, bootScriptUrl: c.bootScriptUrl ?? scriptUrl, ...(c.loaders ? { loaders: c.loaders } : {}) },
    { request: c.request, boot: c.boot ?? boot, now: T0 },
  );
  return { outcome, store, pool };
}

/** A flat view of an outcome, for toMatchObject against a table's `want`. */
function summary(outcome: Outcome): Record<string, unknown> {
  if (outcome.kind === 'ignore') return { kind: 'ignore', code: outcome.code };
  if (outcome.kind === 'update') return { kind: 'update', lease: `${outcome.lease.state} ${outcome.lease.ip}` };
  const { packet, dest, lease, offer } = outcome;
  const o = packet.options;
  const ipxe = o.ipxeEncapsulated instanceof Map ? [...o.ipxeEncapsulated].map(([k, v]) => `${k}=${formatHex(v)}`).join(' ') : undefined;
  return {
    kind: 'reply',
    type: messageTypeName(o.messageType ?? 0),
    yiaddr: packet.yiaddr,
    ciaddr: packet.ciaddr,
    siaddr: packet.siaddr,
    file: packet.file,
    broadcastFlag: (packet.flags & BROADCAST_FLAG) !== 0,
    bootFileName: o.bootFileName,
    ipxe,
    vendorClassId: o.vendorClassId,
    leaseTime: o.leaseTime,
    serverId: o.serverId,
    dest: `${dest.address}:${dest.port}${dest.broadcast ? ' broadcast' : ''}`,
    lease: lease ? `${lease.state} ${lease.ip}` : offer ? `offered ${offer.ip}` : undefined,
    length: encodeDhcp(packet).length,
  };
}

const discover = (options = {}, fields: Partial<DhcpPacket> = {}, who = mac) =>
  clientPacket(who, { messageType: MessageType.discover, ...options }, fields);
const request = (options = {}, fields: Partial<DhcpPacket> = {}, who = mac) =>
  clientPacket(who, { messageType: MessageType.request, ...options }, fields);

const relayed = {
  subnet: '10.50.0.0/24', pool: { start: '10.50.0.10', end: '10.50.0.20' }, router: '10.50.0.1', dns: [], ntp: [], leaseTime: 600,
};

const cases: Case[] = [
  {
    name: 'DISCOVER from iPXE BIOS: script URL in file and 67, 175.176 = 1, no option 60 echo',
    request: discover(firmwareOptions.ipxeBios),
    want: {
      type: 'DHCPOFFER', yiaddr: '10.213.7.100', siaddr: '10.213.7.1', file: scriptUrl(mac),
      bootFileName: scriptUrl(mac), ipxe: '176=01', vendorClassId: undefined, leaseTime: 3600,
      serverId: '10.213.7.1', dest: '255.255.255.255:68 broadcast', lease: 'offered 10.213.7.100',
    },
  },
  {
    name: 'DISCOVER from iPXE EFI gets the same script',
    request: discover(firmwareOptions.ipxeEfi),
    want: { type: 'DHCPOFFER', file: scriptUrl(mac), ipxe: '176=01' },
  },
  {
    name: 'DISCOVER from OVMF PXE (broadcast flag): snponly.efi over TFTP, no 67',
    request: discover(firmwareOptions.ovmfPxe, { flags: BROADCAST_FLAG }),
    want: {
      type: 'DHCPOFFER', file: 'snponly.efi', bootFileName: undefined, ipxe: undefined, siaddr: '10.213.7.1',
      broadcastFlag: true, vendorClassId: undefined, dest: '255.255.255.255:68 broadcast',
    },
  },
  {
    name: 'DISCOVER from BIOS PXE without iPXE: undionly.kpxe',
    request: discover(firmwareOptions.seabiosPxe),
    want: { type: 'DHCPOFFER', file: 'undionly.kpxe', bootFileName: undefined },
  },
  {
    name: 'DISCOVER from a non-PXE client: an address, no boot file',
    request: discover(firmwareOptions.linux),
    boot: noBoot,
    want: { type: 'DHCPOFFER', yiaddr: '10.213.7.100', file: '', bootFileName: undefined, ipxe: undefined },
  },
  {
    name: 'DISCOVER from UEFI HTTP Boot without an HTTP loader configured: address only',
    request: discover(firmwareOptions.ovmfHttp),
    want: { type: 'DHCPOFFER', file: '', bootFileName: undefined, vendorClassId: undefined },
  },
  {
    name: 'DISCOVER from UEFI HTTP Boot: echo HTTPClient, absolute URL of ipxe.efi',
    request: discover(firmwareOptions.ovmfHttp),
    loaders: { uefiPxe: 'snponly.efi', uefiHttp: 'http://10.213.7.1/loaders/ipxe.efi' },
    want: {
      type: 'DHCPOFFER', file: 'http://10.213.7.1/loaders/ipxe.efi', bootFileName: 'http://10.213.7.1/loaders/ipxe.efi',
      vendorClassId: 'HTTPClient', siaddr: '10.213.7.1',
    },
  },
  {
    name: 'DISCOVER from OVMF PXE with the Secure Boot chain configured: shim in the file field only',
    request: discover(firmwareOptions.ovmfPxe, { flags: BROADCAST_FLAG }),
    loaders: { uefiPxe: 'efi/bootx64.efi' },
    want: { type: 'DHCPOFFER', file: 'efi/bootx64.efi', bootFileName: undefined, vendorClassId: undefined },
  },
  {
    name: 'DISCOVER from BIOS PXE with the Secure Boot chain configured: still undionly.kpxe',
    request: discover(firmwareOptions.seabiosPxe),
    loaders: { uefiPxe: 'efi/bootx64.efi' },
    want: { type: 'DHCPOFFER', file: 'undionly.kpxe' },
  },
  {
    name: 'DISCOVER when the Booter returns null: no reply',
    request: discover(firmwareOptions.ipxeBios),
    boot: { kind: 'do-not-answer' },
    want: { kind: 'ignore', code: 'booter-declined' },
  },
  {
    name: 'DISCOVER when the Booter says purpose none: address, no boot file',
    request: discover(firmwareOptions.ipxeBios),
    boot: { kind: 'boot', spec: { purpose: 'none' } },
    want: { type: 'DHCPOFFER', file: '', bootFileName: undefined, ipxe: undefined },
  },
  {
    name: 'a script URL longer than 127 characters goes in option 67 only',
    request: discover(firmwareOptions.ipxeBios),
    bootScriptUrl: (m) => `http://10.213.7.1/boot/${'x'.repeat(120)}/${m}.ipxe`,
    want: { file: '', bootFileName: `http://10.213.7.1/boot/${'x'.repeat(120)}/${mac}.ipxe` },
  },
  {
    name: 'DISCOVER keeps the client on its current lease',
    request: discover(firmwareOptions.ipxeBios),
    leases: [bound('10.213.7.150')],
    want: { yiaddr: '10.213.7.150', lease: 'offered 10.213.7.150' },
  },
  {
    name: 'DISCOVER honours a free requested address (option 50)',
    request: discover({ requestedAddress: '10.213.7.120' }),
    boot: noBoot,
    want: { yiaddr: '10.213.7.120', lease: 'offered 10.213.7.120' },
  },
  {
    name: 'DISCOVER ignores a requested address held by another client',
    request: discover({ requestedAddress: '10.213.7.120' }),
    boot: noBoot,
    leases: [bound('10.213.7.120', other)],
    want: { yiaddr: '10.213.7.100' },
  },
  {
    name: 'DISCOVER with the pool exhausted: no reply',
    request: discover(),
    boot: noBoot,
    config: { pool: { start: '10.213.7.100', end: '10.213.7.100' } },
    leases: [bound('10.213.7.100', other)],
    want: { kind: 'ignore', code: 'pool-exhausted' },
  },
  {
    name: 'relayed DISCOVER goes to the relay on the server port',
    request: discover({}, { giaddr: '10.213.7.254', hops: 1 }),
    boot: noBoot,
    want: { type: 'DHCPOFFER', dest: '10.213.7.254:67' },
  },
  {
    name: 'DISCOVER relayed from a subnet we do not serve: no reply',
    request: discover({}, { giaddr: '192.168.9.1' }),
    want: { kind: 'ignore', code: 'foreign-relay' },
  },
  {
    name: 'REQUEST (SELECTING) for another server\'s offer: no reply',
    request: request({ serverId: '10.213.7.2', requestedAddress: '10.213.7.100' }),
    want: { kind: 'ignore', code: 'other-server' },
  },
  {
    name: 'REQUEST (SELECTING) for our offer: ACK with boot info, lease bound',
    request: request({ ...firmwareOptions.ipxeBios, serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }),
    leases: [{ mac, ip: '10.213.7.100', state: 'offered', expiresAt: T0 + 30_000 }],
    want: {
      type: 'DHCPACK', yiaddr: '10.213.7.100', file: scriptUrl(mac), ipxe: '176=01',
      dest: '255.255.255.255:68 broadcast', lease: 'bound 10.213.7.100',
    },
  },
  {
    name: 'REQUEST (SELECTING) for an address taken meanwhile: NAK',
    request: request({ serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }),
    leases: [bound('10.213.7.100', other)],
    want: { type: 'DHCPNAK', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', file: '', dest: '255.255.255.255:68 broadcast' },
  },
  {
    name: 'REQUEST (RENEWING, unicast with ciaddr): ACK unicast to ciaddr',
    request: request({}, { ciaddr: '10.213.7.150' }),
    boot: noBoot,
    leases: [bound('10.213.7.150')],
    want: { type: 'DHCPACK', yiaddr: '10.213.7.150', ciaddr: '10.213.7.150', dest: '10.213.7.150:68', lease: 'bound 10.213.7.150' },
  },
  {
    name: 'REQUEST (INIT-REBOOT) on the wrong subnet: NAK, broadcast',
    request: request({ requestedAddress: '192.168.1.50' }),
    leases: [bound('10.213.7.150')],
    want: { type: 'DHCPNAK', dest: '255.255.255.255:68 broadcast', lease: undefined },
  },
  {
    name: 'REQUEST (INIT-REBOOT) for another client\'s address: NAK',
    request: request({ requestedAddress: '10.213.7.120' }),
    leases: [bound('10.213.7.150'), bound('10.213.7.120', other)],
    want: { type: 'DHCPNAK' },
  },
  {
    name: 'REQUEST (INIT-REBOOT) for its own address: ACK',
    request: request({ requestedAddress: '10.213.7.150' }),
    leases: [bound('10.213.7.150')],
    want: { type: 'DHCPACK', yiaddr: '10.213.7.150', ciaddr: '0.0.0.0' },
  },
  {
    name: 'REQUEST (INIT-REBOOT) from a client we have no record of: silent (RFC 2131 §4.3.2)',
    request: request({ requestedAddress: '10.213.7.150' }),
    want: { kind: 'ignore', code: 'unknown-client' },
  },
  {
    name: 'relayed NAK sets the broadcast bit and goes to the relay',
    request: request({ requestedAddress: '192.168.1.50' }, { giaddr: '10.213.7.254' }),
    leases: [bound('10.213.7.150')],
    want: { type: 'DHCPNAK', broadcastFlag: true, dest: '10.213.7.254:67' },
  },
  {
    name: 'REQUEST when the Booter returns null: no reply',
    request: request({ serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }),
    boot: { kind: 'do-not-answer' },
    want: { kind: 'ignore', code: 'booter-declined' },
  },
  {
    name: 'INFORM: ACK with options, no address, no lease time, unicast to ciaddr',
    request: clientPacket(mac, { messageType: MessageType.inform }, { ciaddr: '10.213.7.50' }),
    boot: noBoot,
    want: { type: 'DHCPACK', yiaddr: '0.0.0.0', leaseTime: undefined, dest: '10.213.7.50:68', lease: undefined },
  },
  {
    name: 'RELEASE of its own lease: released, no reply',
    request: clientPacket(mac, { messageType: MessageType.release, serverId: '10.213.7.1' }, { ciaddr: '10.213.7.150' }),
    leases: [bound('10.213.7.150')],
    want: { kind: 'update', lease: 'released 10.213.7.150' },
  },
  {
    name: 'RELEASE of an address it does not hold: ignored',
    request: clientPacket(mac, { messageType: MessageType.release }, { ciaddr: '10.213.7.120' }),
    leases: [bound('10.213.7.120', other)],
    want: { kind: 'ignore', code: 'not-client-lease' },
  },
  {
    name: 'DECLINE of its address: quarantined, no reply',
    request: clientPacket(mac, { messageType: MessageType.decline, serverId: '10.213.7.1', requestedAddress: '10.213.7.150' }),
    leases: [bound('10.213.7.150')],
    want: { kind: 'update', lease: 'declined 10.213.7.150' },
  },
  {
    name: 'a BOOTREPLY is not for us',
    request: { ...discover(), op: 2 },
    want: { kind: 'ignore', code: 'not-a-request' },
  },
  {
    name: 'plain BOOTP (no option 53) is not served',
    request: clientPacket(mac, {}),
    want: { kind: 'ignore', code: 'not-dhcp' },
  },
  {
    name: 'relayed DISCOVER: address from the relay\'s subnet, its options, reply to giaddr:67',
    request: discover(firmwareOptions.ipxeBios, { giaddr: '10.50.0.1', hops: 1 }),
    config: { relaySubnets: [relayed] },
    want: { type: 'DHCPOFFER', yiaddr: '10.50.0.10', leaseTime: 600, dest: '10.50.0.1:67', file: scriptUrl(mac) },
  },
  {
    name: 'relayed DISCOVER from a subnet we do not serve: no reply',
    request: discover({}, { giaddr: '10.99.0.1' }),
    config: { relaySubnets: [relayed] },
    want: { kind: 'ignore', code: 'foreign-relay' },
  },
  {
    name: 'a placement rule on option 82 circuit id picks the subnet',
    request: discover({ relayAgentInformation: { circuitId: Buffer.from('rack7/port3') } }, { giaddr: '10.213.7.254' }),
    config: { relaySubnets: [relayed], placement: [{ match: { circuitId: 'rack7/port3' }, subnet: '10.50.0.0/24', zone: 'rack7' }] },
    want: { type: 'DHCPOFFER', yiaddr: '10.50.0.10', dest: '10.213.7.254:67' },
  },
  {
    name: 'a placement rule that does not match leaves the giaddr subnet',
    request: discover({ relayAgentInformation: { circuitId: Buffer.from('rack8/port1') } }, { giaddr: '10.213.7.254' }),
    config: { relaySubnets: [relayed], placement: [{ match: { circuitId: 'rack7/port3' }, subnet: '10.50.0.0/24' }] },
    want: { type: 'DHCPOFFER', yiaddr: '10.213.7.100' },
  },
  {
    name: 'a unicast renewal from a relayed client (no giaddr) is served from its ciaddr\'s subnet',
    request: request({}, { ciaddr: '10.50.0.12' }),
    config: { relaySubnets: [relayed] },
    leases: [{ mac, ip: '10.50.0.12', state: 'bound', expiresAt: T0 + 1000 }],
    want: { type: 'DHCPACK', yiaddr: '10.50.0.12', leaseTime: 600, dest: '10.50.0.12:68', lease: 'bound 10.50.0.12' },
  },
  {
    name: 'a reserved client is offered its reservation',
    request: discover(firmwareOptions.ipxeBios),
    config: { reservations: [{ mac, ip: '10.213.7.42' }] },
    want: { type: 'DHCPOFFER', yiaddr: '10.213.7.42' },
  },
  {
    name: 'REQUEST for another client\'s reservation: NAK',
    request: request({ requestedAddress: '10.213.7.42' }),
    config: { reservations: [{ mac: other, ip: '10.213.7.42' }] },
    leases: [bound('10.213.7.150')],
    want: { type: 'DHCPNAK' },
  },
  {
    name: 'not authoritative: a wrong-subnet INIT-REBOOT gets silence, not a NAK',
    request: request({ requestedAddress: '192.168.1.5' }),
    config: { authoritative: false },
    leases: [bound('10.213.7.150')],
    want: { kind: 'ignore', code: 'not-authoritative' },
  },
  {
    name: 'a server message type from a client is ignored',
    request: clientPacket(mac, { messageType: MessageType.offer }),
    want: { kind: 'ignore', code: 'unsupported-message' },
  },
  {
    name: 'a non-Ethernet client is ignored',
    request: discover({}, { htype: 6 }),
    want: { kind: 'ignore', code: 'not-ethernet' },
  },
];

describe('respond', () => {
  test.each(cases)('$name', ({ want, ...c }) => {
    expect(summary(run(c).outcome)).toMatchObject(want);
  });

  test('every reply is at least 300 octets of BOOTP (RFC 1542 §2.1)', () => {
    for (const c of cases) {
      const { outcome } = run(c);
      if (outcome.kind === 'reply') expect(encodeDhcp(outcome.packet).length, c.name).toBeGreaterThanOrEqual(300);
    }
  });

  test('replies copy xid, flags, chaddr and echo options 61 and 82', () => {
    const clientId = { type: 1, id: Buffer.from('525400123456', 'hex') };
    const relayAgentInformation = { circuitId: Buffer.from('port-7') };
    const { outcome } = run({
      request: discover({ clientId, relayAgentInformation }, { xid: 0xdeadbeef, flags: BROADCAST_FLAG, giaddr: '10.213.7.254' }),
      boot: noBoot,
    });
    expect(outcome.kind).toBe('reply');
    if (outcome.kind !== 'reply') return;
    expect(outcome.packet).toMatchObject({ op: 2, xid: 0xdeadbeef, flags: BROADCAST_FLAG, giaddr: '10.213.7.254', hops: 0 });
    expect(outcome.packet.chaddr).toEqual(Buffer.from('525400123456', 'hex'));
    expect(outcome.packet.options).toMatchObject({
      clientId, relayAgentInformation, subnetMask: '255.255.255.0', routers: ['10.213.7.1'],
      dnsServers: ['10.213.7.1'], domainName: 'lab.test', renewalTime: 1800, rebindingTime: 3150,
    });
  });
});

test('NTP servers and interface MTU go out when configured (options 42, 26)', () => {
  const { outcome } = run({ request: discover(), config: { ntp: ['10.213.7.5'], mtu: 9000 } });
  if (outcome.kind !== 'reply') throw new Error(outcome.kind);
  expect(outcome.packet.options).toMatchObject({ ntpServers: ['10.213.7.5'], interfaceMtu: 9000 });
});

describe('lease life-cycle through respond', () => {
  /** Runs requests in order against one store, committing writes as the server does. */
  function sequence(steps: { request: DhcpPacket; now?: number }[]): Outcome[] {
    const store = new InMemoryLeaseStore();
    const pool = new LeasePool(store, testConfig, T0);
    return steps.map(({ request: packet, now = T0 }) => {
      const outcome = respond({ config: testConfig, leases: pool, bootScriptUrl: scriptUrl }, { request: packet, boot, now });
      if (outcome.kind === 'reply' && outcome.offer) pool.hold(outcome.offer);
      if (outcome.kind !== 'ignore' && outcome.lease) pool.commit(outcome.lease);
      return outcome;
    });
  }
  const yiaddr = (o: Outcome | undefined) => (o?.kind === 'reply' ? o.packet.yiaddr : undefined);

  test('a released address is free for the next client', () => {
    const outcomes = sequence([
      { request: discover({}, {}, mac) },
      { request: request({ serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }, {}, mac) },
      { request: clientPacket(mac, { messageType: MessageType.release, serverId: '10.213.7.1' }, { ciaddr: '10.213.7.100' }) },
      { request: discover({ requestedAddress: '10.213.7.100' }, {}, other) },
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['reply', 'reply', 'update', 'reply']);
    expect(yiaddr(outcomes[3])).toBe('10.213.7.100');
  });

  test('a declined address is not offered again, even to the same client, until a lease time passes', () => {
    const outcomes = sequence([
      { request: discover() },
      { request: request({ serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }) },
      { request: clientPacket(mac, { messageType: MessageType.decline, serverId: '10.213.7.1', requestedAddress: '10.213.7.100' }) },
      { request: discover() },
      { request: discover({ requestedAddress: '10.213.7.100' }, {}, other) },
      { request: discover({ requestedAddress: '10.213.7.100' }, {}, '52:54:00:00:00:03'), now: T0 + 3_600_001 },
    ]);
    expect(outcomes.map(yiaddr)).toEqual(['10.213.7.100', '10.213.7.100', undefined, '10.213.7.101', '10.213.7.102', '10.213.7.100']);
  });

  test('an unanswered offer frees its address after offerTimeout', () => {
    const outcomes = sequence([
      { request: discover({}, {}, mac) },
      { request: discover({}, {}, other), now: T0 + 10_000 },
      { request: discover({ requestedAddress: '10.213.7.100' }, {}, '52:54:00:00:00:03'), now: T0 + 30_001 },
    ]);
    expect(outcomes.map(yiaddr)).toEqual(['10.213.7.100', '10.213.7.101', '10.213.7.100']);
  });
});

describe('golden exchange with QEMU\'s iPXE ROM (testdata/dhcp)', () => {
  const golden = (name: string) => readFileSync(join(import.meta.dirname, '../../testdata/dhcp', `${name}.bin`));

  test('our replies to the captured DISCOVER and REQUEST are the captured OFFER and ACK, octet for octet', () => {
    const store = new InMemoryLeaseStore();
    const pool = new LeasePool(store, testConfig, T0);
    const ctx = { config: testConfig, leases: pool, bootScriptUrl: scriptUrl };
    const replies = (['ipxe-bios-discover', 'ipxe-bios-request'] as const).map((name) => {
      const outcome = respond(ctx, { request: { ...decodeDhcp(golden(name)), xid: 0xec99db1f }, boot, now: T0 });
      if (outcome.kind !== 'reply') throw new Error(`${name}: ${outcome.kind}`);
      if (outcome.lease) pool.commit(outcome.lease);
      return encodeDhcp(outcome.packet);
    });
    expect(replies).toEqual([golden('netboot-offer-ipxe-bios'), golden('netboot-ack-ipxe-bios')]);
  });
});
