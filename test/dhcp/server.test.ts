// The server on loopback with real sockets. Replies to an unconfigured client go to
// 255.255.255.255, which never reaches a loopback peer, so the exchange runs the way a relay agent
// does it (RFC 1542 §4: giaddr set -> reply to the relay on the server port): a test "relay" owns
// 127.0.0.2:16767. The renewal then comes from the leased address itself, unicast both ways
// (ciaddr set -> reply to ciaddr:clientPort). Every 127/8 address is local on Linux.
import { Buffer } from 'node:buffer';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DhcpConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import {
  decodeDhcp, encodeDhcp, formatHexColons, MessageType, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';
import type { Lease } from '../../src/dhcp/lease-store.js';
import { startDhcpServer, type DhcpServer } from '../../src/dhcp/index.js';
import {
  dhcpConfig, clientPacket, FakeBooter, firmwareOptions, InMemoryLeaseStore, RecordingEvents, scriptUrl, silentLogger,
} from './fakes.js';

const SERVER_PORT = 16767;
const CLIENT_PORT = 16768;
const RELAY = '127.0.0.2';
const mac = '52:54:00:12:34:56';
const ignoredMac = '52:54:00:99:99:99';

const config: DhcpConfig = dhcpConfig({
  enabled: true,
  serverAddress: '127.0.0.1',
  subnet: '127.0.0.0/8',
  pool: { start: '127.0.0.100', end: '127.0.0.199' },
  dns: [],
  leaseTime: 600,
  offerTimeout: 30,
  port: SERVER_PORT,
  clientPort: CLIENT_PORT,
});

interface Received {
  readonly packet: DhcpPacket;
  readonly length: number;
  /** The client's lease in the store at the moment the datagram arrived. */
  readonly leaseOnArrival: Lease | undefined;
  /** How many disk flushes of the store had completed when it arrived. */
  readonly syncsOnArrival: number;
}

/** A UDP endpoint that queues decoded replies, noting the store's state on arrival. */
class Peer {
  private readonly queue: Received[] = [];
  private readonly waiters: ((r: Received) => void)[] = [];

  private constructor(private readonly socket: Socket) {}

  static async bind(address: string, port: number, store: InMemoryLeaseStore): Promise<Peer> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const peer = new Peer(socket);
    socket.on('message', (bytes) => {
      const packet = decodeDhcp(bytes);
      const received = { packet, length: bytes.length, leaseOnArrival: store.byMac(mac), syncsOnArrival: store.syncs };
      const waiter = peer.waiters.shift();
      if (waiter) waiter(received);
      else peer.queue.push(received);
    });
    await new Promise<void>((resolve) => socket.bind(port, address, resolve));
    return peer;
  }

  send(packet: DhcpPacket | Buffer, address: string): Promise<void> {
    const bytes = Buffer.isBuffer(packet) ? packet : encodeDhcp(packet);
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, SERVER_PORT, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  next(timeoutMs = 3000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (r: Received): void => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async nothingWithin(ms: number): Promise<boolean> {
    return this.next(ms).then(() => false, () => true);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

describe('DHCP server on loopback', () => {
  let store: InMemoryLeaseStore;
  let events: RecordingEvents;
  let server: DhcpServer;
  let relay: Peer;
  const peers: Peer[] = [];

  beforeEach(async () => {
    store = new InMemoryLeaseStore();
    events = new RecordingEvents();
    server = await startDhcpServer({
      config, leases: store, booter: new FakeBooter(undefined, [ignoredMac]), events,
      log: silentLogger(), bootScriptUrl: scriptUrl,
    });
    relay = await Peer.bind(RELAY, SERVER_PORT, store);
    peers.push(relay);
  });

  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
    await server.close();
  });

  test('DISCOVER/OFFER, REQUEST/ACK through a relay, then a unicast renewal', async () => {
    const relayed = { giaddr: RELAY, hops: 1, xid: 0x504f2732 };
    // To an address that is not serverAddress: lands on the 0.0.0.0 socket, as broadcasts do.
    await relay.send(clientPacket(mac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, relayed), '127.0.0.3');
    const offer = await relay.next();
    expect(offer.length).toBeGreaterThanOrEqual(300);
    expect(offer.packet).toMatchObject({
      op: 2, xid: 0x504f2732, yiaddr: '127.0.0.100', siaddr: '127.0.0.1', giaddr: RELAY, file: scriptUrl(mac),
    });
    expect(offer.packet.options).toMatchObject({
      messageType: MessageType.offer, serverId: '127.0.0.1', leaseTime: 600, bootFileName: scriptUrl(mac),
      ipxeEncapsulated: new Map([[176, Buffer.from([1])]]),
    });
    expect(offer.packet.options.vendorClassId).toBeUndefined();
    // Offers are held in memory: nothing is written for them.
    expect(offer.leaseOnArrival).toBeUndefined();
    expect(store.writes).toEqual([]);

    // To serverAddress itself: lands on the socket bound to it.
    await relay.send(clientPacket(mac, {
      messageType: MessageType.request, serverId: '127.0.0.1', requestedAddress: '127.0.0.100',
      ...firmwareOptions.ipxeBios,
    }, relayed), '127.0.0.1');
    const ack = await relay.next();
    expect(ack.packet.options.messageType).toBe(MessageType.ack);
    expect(ack.packet.yiaddr).toBe('127.0.0.100');
    // The lease was durable before the ACK left the server.
    expect(ack.leaseOnArrival).toMatchObject({ ip: '127.0.0.100', state: 'bound' });

    const client = await Peer.bind('127.0.0.100', CLIENT_PORT, store);
    peers.push(client);
    await client.send(clientPacket(mac, { messageType: MessageType.request }, { ciaddr: '127.0.0.100' }), '127.0.0.1');
    const renewed = await client.next();
    expect(renewed.packet).toMatchObject({ yiaddr: '127.0.0.100', ciaddr: '127.0.0.100' });
    expect(renewed.packet.options.messageType).toBe(MessageType.ack);

    // One event per request: the reply when there is one.
    expect(events.events).toEqual([
      { mac, type: 'dhcp-offer', detail: '127.0.0.100' },
      { mac, type: 'dhcp-ack', detail: '127.0.0.100' },
      { mac, type: 'dhcp-ack', detail: '127.0.0.100' },
    ]);
  });

  test('malformed packets and Booter refusals get no reply; the server keeps answering', async () => {
    await relay.send(Buffer.from('not a DHCP packet at all'), '127.0.0.1');
    await relay.send(clientPacket(ignoredMac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, { giaddr: RELAY }), '127.0.0.1');
    expect(await relay.nothingWithin(300)).toBe(true);
    // An unanswered request is on the timeline with the reason.
    expect(events.events).toEqual([{ mac: ignoredMac, type: 'dhcp-discover', detail: `ignored: the Booter does not answer ${ignoredMac}` }]);

    await relay.send(clientPacket(mac, { messageType: MessageType.discover }, { giaddr: RELAY }), '127.0.0.1');
    const offer = await relay.next();
    expect(offer.packet.options.messageType).toBe(MessageType.offer);
    expect(offer.packet.file).toBe(''); // not a boot client
  });

  test('a lease that cannot be written is never granted', async () => {
    await relay.send(clientPacket(mac, { messageType: MessageType.discover }, { giaddr: RELAY }), '127.0.0.1');
    expect((await relay.next()).packet.options.messageType).toBe(MessageType.offer);
    store.failNextWrite = true;
    const request = { messageType: MessageType.request, serverId: '127.0.0.1', requestedAddress: '127.0.0.100' };
    await relay.send(clientPacket(mac, request, { giaddr: RELAY }), '127.0.0.1');
    expect(await relay.nothingWithin(300)).toBe(true);
    expect(events.events.map((e) => e.type)).toEqual(['dhcp-offer', 'dhcp-request']);
    expect(events.events[1]!.detail).toMatch(/^not answered: /);
    // The failed write left nothing behind: the retransmitted REQUEST is granted.
    await relay.send(clientPacket(mac, request, { giaddr: RELAY }), '127.0.0.1');
    const ack = await relay.next();
    expect(ack.packet.options.messageType).toBe(MessageType.ack);
    expect(ack.leaseOnArrival).toMatchObject({ ip: '127.0.0.100', state: 'bound' });
  });

  test('an ACK leaves only after the disk flush; a failed flush sends none', async () => {
    await relay.send(clientPacket(mac, { messageType: MessageType.discover }, { giaddr: RELAY }), '127.0.0.1');
    expect((await relay.next()).packet.options.messageType).toBe(MessageType.offer);
    store.failNextSync = true;
    const request = { messageType: MessageType.request, serverId: '127.0.0.1', requestedAddress: '127.0.0.100' };
    await relay.send(clientPacket(mac, request, { giaddr: RELAY }), '127.0.0.1');
    expect(await relay.nothingWithin(300)).toBe(true);
    expect(events.events.at(-1)).toMatchObject({ type: 'dhcp-request', detail: 'not answered: EIO: fdatasync failed' });
    // The lease was committed, so the client's retransmission is its own address, granted once flushed.
    await relay.send(clientPacket(mac, request, { giaddr: RELAY }), '127.0.0.1');
    const ack = await relay.next();
    expect(ack.packet.options.messageType).toBe(MessageType.ack);
    expect(ack.packet.yiaddr).toBe('127.0.0.100');
    expect(ack.syncsOnArrival).toBe(1);
  });

  test('ACKs for concurrent clients share one write (group commit)', async () => {
    const macs = Array.from({ length: 20 }, (_, i) => `52:54:00:aa:00:${i.toString(16).padStart(2, '0')}`);
    for (const m of macs) await relay.send(clientPacket(m, { messageType: MessageType.discover }, { giaddr: RELAY }), '127.0.0.1');
    const offers = await Promise.all(macs.map(() => relay.next()));
    await Promise.all(offers.map(({ packet }) => relay.send(clientPacket(formatHexColons(packet.chaddr), {
      messageType: MessageType.request, serverId: '127.0.0.1', requestedAddress: packet.yiaddr,
    }, { giaddr: RELAY }), '127.0.0.1')));
    const acks = await Promise.all(macs.map(() => relay.next()));
    expect(new Set(acks.map((a) => a.packet.yiaddr)).size).toBe(20);
    expect(store.writes).toHaveLength(20);
    expect(store.transactions).toBeLessThan(20);
    expect(store.syncs).toBeLessThanOrEqual(store.transactions);
  });

  test('a NAK for a wrong-subnet INIT-REBOOT goes to the relay with the broadcast bit', async () => {
    store.upsertMany([{ mac, ip: '127.0.0.150', state: 'bound', expiresAt: Date.now() + 60_000 }]);
    await relay.send(clientPacket(mac, { messageType: MessageType.request, requestedAddress: '10.1.1.1' }, { giaddr: RELAY }), '127.0.0.1');
    const nak = await relay.next();
    expect(nak.packet.options.messageType).toBe(MessageType.nak);
    expect(nak.packet.flags & 0x8000).toBe(0x8000);
    expect(events.events.at(-1)).toMatchObject({ mac, type: 'dhcp-nak' });
  });

  test('relay information (giaddr, option 82) is recorded with the placement a rule gives', async () => {
    await server.close();
    const recorded: unknown[] = [];
    server = await startDhcpServer({
      config: { ...config, placement: [{ match: { circuitId: 'rack7/port3' }, zone: 'rack7', pool: 'gpu' }] },
      leases: store, booter: new FakeBooter(), events, log: silentLogger(), bootScriptUrl: scriptUrl,
      relays: { record: (...args) => recorded.push(args) },
    });
    const relayAgentInformation = { remoteId: Buffer.from([0, 1, 2]), circuitId: Buffer.from('rack7/port3') };
    await relay.send(clientPacket(mac, { messageType: MessageType.discover, relayAgentInformation }, { giaddr: RELAY }), '127.0.0.1');
    const offer = await relay.next();
    expect(offer.packet.options.relayAgentInformation).toMatchObject({ circuitId: Buffer.from('rack7/port3') });
    expect(recorded).toEqual([[mac, { giaddr: RELAY, circuitId: 'rack7/port3', remoteId: '00:01:02' }, { zone: 'rack7', pool: 'gpu' }]]);
  });

  test('close releases both sockets', async () => {
    await server.close();
    server = await startDhcpServer({
      config, leases: store, booter: new FakeBooter(), events, log: silentLogger(), bootScriptUrl: scriptUrl,
    });
  });
});

test('a serverAddress this host does not have is a ConfigError that says so', async () => {
  const start = startDhcpServer({
    config: { ...config, serverAddress: '198.51.100.77', subnet: '198.51.100.0/24', pool: { start: '198.51.100.100', end: '198.51.100.199' }, port: 16769 },
    leases: new InMemoryLeaseStore(), booter: new FakeBooter(), events: new RecordingEvents(),
    log: silentLogger(), bootScriptUrl: scriptUrl,
  });
  await expect(start).rejects.toThrow(ConfigError);
  await expect(start).rejects.toThrow(/not an address of this host/);
});
