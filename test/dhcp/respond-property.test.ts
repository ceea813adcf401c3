// Property tests for the lease policy (STYLE.md §11): random sequences of client messages from a few
// MACs, on a small pool, with time jumping forward, through respond() and the LeasePool as the server
// drives them. Whatever the sequence, no address is ever granted to two clients at once, every
// granted address is in the pool or reserved, and a client that was ACKed holds a durable lease.
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MessageType, type DhcpPacket } from '../../src/dhcp/codec/index.js';
import { LeasePool } from '../../src/dhcp/leases.js';
import { respond } from '../../src/dhcp/respond.js';
import { clientPacket, dhcpConfig, firmwareOptions, InMemoryLeaseStore, scriptUrl } from './fakes.js';

const config = dhcpConfig({
  enabled: true, serverAddress: '10.213.7.1', subnet: '10.213.7.0/24',
  pool: { start: '10.213.7.100', end: '10.213.7.105' }, leaseTime: 60, offerTimeout: 10,
  reservations: [{ mac: '52:54:00:00:00:05', ip: '10.213.7.50' }],
});
const macs = Array.from({ length: 8 }, (_, i) => `52:54:00:00:00:0${i}`);
const poolAddresses = new Set(['100', '101', '102', '103', '104', '105', '50'].map((n) => `10.213.7.${n}`));

type Step =
  | { kind: 'discover' | 'select' | 'init-reboot' | 'renew' | 'release' | 'decline'; client: number; address: number }
  | { kind: 'wait'; seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('discover', 'select', 'init-reboot', 'renew', 'release', 'decline'),
    client: fc.integer({ min: 0, max: macs.length - 1 }),
    address: fc.integer({ min: 98, max: 107 }),
  }),
  fc.record({ kind: fc.constant('wait'), seconds: fc.integer({ min: 1, max: 90 }) }),
) as fc.Arbitrary<Step>;

function message(s: Exclude<Step, { kind: 'wait' }>, offered: Map<string, string>): DhcpPacket {
  const mac = macs[s.client]!;
  const guess = offered.get(mac) ?? `10.213.7.${s.address}`;
  const boot = s.client % 2 === 0 ? firmwareOptions.ipxeBios : firmwareOptions.linux;
  switch (s.kind) {
    case 'discover': return clientPacket(mac, { messageType: MessageType.discover, ...boot });
    case 'select': return clientPacket(mac, { messageType: MessageType.request, serverId: '10.213.7.1', requestedAddress: guess, ...boot });
    case 'init-reboot': return clientPacket(mac, { messageType: MessageType.request, requestedAddress: guess });
    case 'renew': return clientPacket(mac, { messageType: MessageType.request }, { ciaddr: guess });
    case 'release': return clientPacket(mac, { messageType: MessageType.release, serverId: '10.213.7.1' }, { ciaddr: guess });
    case 'decline': return clientPacket(mac, { messageType: MessageType.decline, serverId: '10.213.7.1', requestedAddress: guess });
  }
}

describe('lease policy under random client behaviour', () => {
  test('no address is ever held by two clients; grants stay in the pool; ACKs are durable', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => {
      const store = new InMemoryLeaseStore();
      let now = 1_700_000_000_000;
      const pool = new LeasePool(store, config, now);
      const offered = new Map<string, string>();
      /** Who was last granted each address (OFFER or ACK), and until when. */
      const granted = new Map<string, { mac: string; until: number }>();
      for (const s of steps) {
        if (s.kind === 'wait') {
          now += s.seconds * 1000;
          continue;
        }
        const outcome = respond({ config, leases: pool, bootScriptUrl: scriptUrl }, { request: message(s, offered), boot: { kind: 'not-a-boot-client' }, now });
        if (outcome.kind === 'update') {
          pool.commit(outcome.lease);
          pool.flush(now);
          if (outcome.lease.state === 'released' || outcome.lease.state === 'declined') granted.delete(outcome.lease.ip);
          continue;
        }
        if (outcome.kind !== 'reply') continue;
        const type = outcome.packet.options.messageType;
        if (type !== MessageType.offer && type !== MessageType.ack) continue;
        const ip = outcome.packet.yiaddr;
        if (type === MessageType.ack && ip === '0.0.0.0') continue; // ACK to INFORM
        const mac = macs.find((m) => Buffer.from(clientPacket(m, {}).chaddr).equals(outcome.packet.chaddr))!;
        expect(poolAddresses.has(ip), `${ip} granted outside the pool`).toBe(true);
        const holder = granted.get(ip);
        if (holder && holder.mac !== mac) expect(holder.until, `${ip} granted to ${mac} while ${holder.mac} holds it`).toBeLessThanOrEqual(now);
        if (outcome.offer) pool.hold(outcome.offer);
        if (outcome.lease) {
          pool.commit(outcome.lease);
          pool.flush(now);
          expect(store.byMac(mac)).toMatchObject({ ip, state: 'bound' });
        }
        for (const [address, who] of granted) if (who.mac === mac && address !== ip) granted.delete(address);
        granted.set(ip, { mac, until: type === MessageType.ack ? outcome.lease!.expiresAt : outcome.offer!.expiresAt });
        offered.set(mac, ip);
      }
    }), {
      numRuns: 300,
      // Found by this property (seed -359429837): an expired offer's client DISCOVERs again after its
      // address went to another client; taking a new address dropped the other client's hold, and a
      // third client's SELECTING REQUEST for it was ACKed. Checked on every run from now on.
      examples: [[[
        { kind: 'discover', client: 7, address: 98 }, { kind: 'wait', seconds: 10 }, { kind: 'discover', client: 0, address: 98 },
        { kind: 'discover', client: 7, address: 98 }, { kind: 'select', client: 1, address: 100 }, { kind: 'discover', client: 0, address: 98 },
      ]]],
    });
  });
});
