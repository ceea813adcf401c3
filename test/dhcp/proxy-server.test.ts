// The proxyDHCP listener on loopback with real sockets and non-privileged ports. As in server.test.ts,
// port-67 replies to unconfigured clients go to 255.255.255.255, which a loopback peer never gets, so
// the DISCOVER comes through a test "relay" (giaddr 127.0.0.2, answered on the server port). The
// port-4011 exchange is unicast both ways, from the address the "site server" gave the client.
import { Buffer } from 'node:buffer';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DhcpConfig } from '../../src/config/schema.js';
import { decodeDhcp, encodeDhcp, MessageType, type DhcpPacket } from '../../src/dhcp/codec/index.js';
import { startProxyDhcpServer, type ProxyDhcpServer } from '../../src/dhcp/index.js';
import { clientPacket, dhcpConfig, FakeBooter, firmwareOptions, RecordingEvents, scriptUrl, silentLogger } from './fakes.js';

const SERVER_PORT = 16867;
const CLIENT_PORT = 16868;
const PROXY_PORT = 16869;
const RELAY = '127.0.0.2';
const CLIENT = '127.0.0.150'; // the address the site server gave the client
const SITE = '127.0.0.9';
const mac = '52:54:00:12:34:56';
const ignoredMac = '52:54:00:99:99:99';

// Proxy mode needs neither a subnet nor a pool.
const config: DhcpConfig = dhcpConfig({
  enabled: true, mode: 'proxy', serverAddress: '127.0.0.1', port: SERVER_PORT, clientPort: CLIENT_PORT, proxyPort: PROXY_PORT,
});

interface Datagram { readonly packet: DhcpPacket; readonly fromPort: number; readonly length: number }

/** A UDP endpoint that queues what it receives, with the sender's port. */
async function endpoint(address: string, port: number) {
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  const queue: Datagram[] = [];
  socket.on('message', (bytes, from) => queue.push({ packet: decodeDhcp(bytes), fromPort: from.port, length: bytes.length }));
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  return {
    send: (packet: DhcpPacket | Buffer, to: string, toPort: number) => new Promise<void>((resolve, reject) => {
      const bytes = Buffer.isBuffer(packet) ? packet : encodeDhcp(packet);
      socket.send(bytes, toPort, to, (err) => (err ? reject(err) : resolve()));
    }),
    async next(timeoutMs = 3000): Promise<Datagram | undefined> {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        const first = queue.shift();
        if (first) return first;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return undefined;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
type Endpoint = Awaited<ReturnType<typeof endpoint>>;

describe('proxyDHCP server on loopback', () => {
  let events: RecordingEvents;
  let booter: FakeBooter;
  let server: ProxyDhcpServer;
  let relay: Endpoint;
  let client: Endpoint;

  beforeEach(async () => {
    events = new RecordingEvents();
    booter = new FakeBooter(undefined, [ignoredMac]);
    server = await startProxyDhcpServer({ config, booter, events, log: silentLogger(), bootScriptUrl: scriptUrl });
    relay = await endpoint(RELAY, SERVER_PORT);
    client = await endpoint(CLIENT, CLIENT_PORT);
  });

  afterEach(async () => {
    await Promise.all([relay.close(), client.close()]);
    await server.close();
  });

  test('DISCOVER gets a proxy OFFER on 67; the REQUEST for the site server is left alone; 4011 gets the ACK', async () => {
    const relayed = { giaddr: RELAY, hops: 1, xid: 0x504f2732 };
    // To an address that is not serverAddress: lands on the 0.0.0.0 socket, as broadcasts do.
    await relay.send(clientPacket(mac, { messageType: MessageType.discover, ...firmwareOptions.ovmfPxe }, relayed), '127.0.0.3', SERVER_PORT);
    const offer = await relay.next();
    expect(offer?.fromPort).toBe(SERVER_PORT);
    expect(offer?.length).toBeGreaterThanOrEqual(300);
    expect(offer?.packet).toMatchObject({ op: 2, xid: 0x504f2732, yiaddr: '0.0.0.0', siaddr: '127.0.0.1', file: 'snponly.efi' });
    expect(offer?.packet.options).toMatchObject({ messageType: MessageType.offer, serverId: '127.0.0.1', vendorClassId: 'PXEClient' });
    expect(offer?.packet.options.leaseTime).toBeUndefined();

    // The client takes the site server's address: that REQUEST is not ours.
    const selecting = { messageType: MessageType.request, serverId: SITE, requestedAddress: CLIENT, ...firmwareOptions.ovmfPxe };
    await relay.send(clientPacket(mac, selecting, relayed), '127.0.0.1', SERVER_PORT);
    expect(await relay.next(300)).toBeUndefined();
    expect(server.macOf(CLIENT)).toBe(mac);

    // PXE 2.1 §2.2.3: then unicast to us on 4011, from its new address; the ACK comes back from 4011.
    const pxeRequest = { messageType: MessageType.request, serverId: '127.0.0.1', ...firmwareOptions.ovmfPxe };
    await client.send(clientPacket(mac, pxeRequest, { ciaddr: CLIENT }), '127.0.0.1', PROXY_PORT);
    const ack = await client.next();
    expect(ack?.fromPort).toBe(PROXY_PORT);
    expect(ack?.packet).toMatchObject({ yiaddr: '0.0.0.0', ciaddr: CLIENT, siaddr: '127.0.0.1', file: 'snponly.efi' });
    expect(ack?.packet.options).toMatchObject({ messageType: MessageType.ack, vendorSpecific: new Map([[6, Buffer.from([8])], [10, Buffer.from('\0PXE')]]) });

    expect(events.events).toEqual([
      { mac, type: 'dhcp-discover', detail: 'proxy' },
      { mac, type: 'dhcp-offer', detail: 'proxy: snponly.efi' },
      { mac, type: 'dhcp-request', detail: `proxy port ${PROXY_PORT}` },
      { mac, type: 'dhcp-ack', detail: 'proxy: snponly.efi' },
    ]);
  });

  test('the booted OS of a PXE client is followed to a new address; a bystander is not remembered', async () => {
    const relayed = { giaddr: RELAY, hops: 1 };
    const selecting = { messageType: MessageType.request, serverId: SITE, requestedAddress: CLIENT, ...firmwareOptions.ovmfPxe };
    await relay.send(clientPacket(mac, selecting, relayed), '127.0.0.1', SERVER_PORT);
    await expect.poll(() => server.macOf(CLIENT)).toBe(mac);
    // The commissioning environment's DHCP client (no PXEClient class) gets another address from the
    // site server: the run token's address binding must follow it (src/machines/boot-auth.ts).
    const osAddress = '10.213.7.160';
    await relay.send(clientPacket(mac, { messageType: MessageType.request, serverId: SITE, requestedAddress: osAddress }, relayed), '127.0.0.1', SERVER_PORT);
    await expect.poll(() => server.macOf(osAddress)).toBe(mac);
    // A laptop on the segment was never a PXE client: its address is nobody we boot.
    const laptop = '52:54:00:00:0a:0a';
    await relay.send(clientPacket(laptop, { messageType: MessageType.request, serverId: SITE, requestedAddress: '10.213.7.170' }, relayed), '127.0.0.1', SERVER_PORT);
    expect(await relay.next(300)).toBeUndefined();
    expect(server.macOf('10.213.7.170')).toBeUndefined();
  });

  test('iPXE gets its script URL in the offer', async () => {
    await relay.send(clientPacket(mac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, { giaddr: RELAY }), '127.0.0.1', SERVER_PORT);
    const offer = await relay.next();
    expect(offer?.packet.file).toBe(scriptUrl(mac));
    expect(offer?.packet.options).toMatchObject({ bootFileName: scriptUrl(mac), vendorClassId: 'PXEClient' });
  });

  test('non-PXE clients and Booter refusals get nothing, and the Booter is not asked for bystanders', async () => {
    await relay.send(clientPacket('52:54:00:00:00:07', { messageType: MessageType.discover, ...firmwareOptions.linux }, { giaddr: RELAY }), '127.0.0.1', SERVER_PORT);
    await relay.send(clientPacket(ignoredMac, { messageType: MessageType.discover, ...firmwareOptions.ipxeBios }, { giaddr: RELAY }), '127.0.0.1', SERVER_PORT);
    await relay.send(Buffer.from('not a DHCP packet'), '127.0.0.1', SERVER_PORT);
    expect(await relay.next(300)).toBeUndefined();
    expect(booter.asked.map((c) => c.mac)).toEqual([ignoredMac]);
    expect(events.events).toEqual([{ mac: ignoredMac, type: 'dhcp-discover', detail: 'proxy' }]);
  });

  test('close releases all three sockets', async () => {
    await server.close();
    server = await startProxyDhcpServer({ config, booter, events, log: silentLogger(), bootScriptUrl: scriptUrl });
  });
});
