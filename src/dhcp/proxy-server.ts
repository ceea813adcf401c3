// The proxyDHCP listener (config `dhcp.mode: proxy`): the socket side of proxy.ts, beside a site's own
// DHCP server. It never allocates, writes or reads a lease; it answers PXE clients with boot files.
//
// Three sockets:
// - `receiver`, 0.0.0.0:67 (SO_REUSEADDR): the only way to receive broadcast DISCOVERs;
// - `sender`, serverAddress:67: every port-67 reply leaves from it, so a limited broadcast leaves
//   through the boot interface without a route, with source port 67 (see server.ts for both reasons);
// - `pxe`, serverAddress:4011: the PXE boot server port (PXE 2.1 §2.2.3). Its replies leave from 4011,
//   which iPXE requires of a ProxyDHCPACK (dhcp.c dhcp_proxy_rx: peer port == PXE_PORT).
// Node's UDP sockets have no SO_BINDTODEVICE, so a DHCP server on this same host must share port 67
// with SO_REUSEADDR (dnsmasq --bind-interfaces does: both bind) and answer from another address.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { DhcpConfig } from '../config/schema.js';
import type { Booter, EventSink, EventType } from '../machines/boot.js';
import { decideBoot, type BootDecision, type LoaderChoice } from './boot-file.js';
import { clientMac } from './classify.js';
import {
  decodeDhcp, DecodeError, encodeDhcp, formatHexColons, MessageType, messageTypeName, type DhcpPacket,
} from './codec/index.js';
import { heardAddress, osRequestAddress, proxyRespond, screenProxy, type ProxyContext, type ProxyPort } from './proxy.js';
import { setMostRecent } from '../recent-map.js';
import { bindSocket, closeSocket, explainBindError, sendTo } from '../udp.js';
import { noMetrics, type Metrics } from '../metrics.js';
import { dhcpCounters, typeLabel, type DhcpCounters } from './metrics.js';

export interface ProxyDhcpServerDeps {
  readonly config: DhcpConfig;
  readonly booter: Booter;
  readonly events: EventSink;
  /** Packets by message type, replies, ignored requests (src/metrics.ts); none when absent. */
  readonly metrics?: Metrics;
  readonly log: Logger;
  /** Absolute URL of the iPXE script for a MAC (src/http-boot serves it). */
  readonly bootScriptUrl: (mac: string) => string;
  readonly loaders?: LoaderChoice;
}

export interface ProxyDhcpServer {
  /** The MAC of the PXE client last heard with this address (memory only; see proxy.ts heardAddress). */
  macOf(address: string): string | undefined;
  /** Stops receiving, waits for packets being handled, then closes the sockets. */
  close(): Promise<void>;
}

/** Addresses remembered for macOf(); the oldest go first. */
const MAX_ADDRESSES = 4096;

const receivedEvents: ReadonlyMap<number, EventType> = new Map([
  [MessageType.discover, 'dhcp-discover'],
  [MessageType.request, 'dhcp-request'],
]);

export async function startProxyDhcpServer(deps: ProxyDhcpServerDeps): Promise<ProxyDhcpServer> {
  const { config } = deps;
  const log = deps.log.child({ subsystem: 'dhcp-proxy' });
  const ctx: ProxyContext = {
    serverAddress: config.serverAddress,
    ports: { server: config.port, client: config.clientPort },
    bootScriptUrl: deps.bootScriptUrl,
    ...(deps.loaders ? { loaders: deps.loaders } : {}),
  };
  const receiver = createSocket({ type: 'udp4', reuseAddr: true });
  const sender = createSocket({ type: 'udp4', reuseAddr: true });
  const pxe = createSocket({ type: 'udp4' });
  const bind = async (socket: Socket, port: number, host: string, portKey: string) => {
    try {
      await bindSocket(socket, port, host);
    } catch (err) {
      throw explainBindError(err, {
        hostKey: 'dhcp.serverAddress', portKey, host: config.serverAddress, port,
        usualSuspects: 'isc-dhcp-server, kea, dnsmasq, another proxyDHCP such as a WDS or FOG server',
      });
    }
  };
  try {
    await bind(receiver, config.port, '0.0.0.0', 'dhcp.port');
    await bind(sender, config.port, config.serverAddress, 'dhcp.port');
    await bind(pxe, config.proxyPort, config.serverAddress, 'dhcp.proxyPort');
  } catch (err) {
    await Promise.all([receiver, sender, pxe].map(closeSocket));
    throw err;
  }
  sender.setBroadcast(true); // SO_BROADCAST: offers go to 255.255.255.255

  const addresses = new Map<string, string>();
  const counters = dhcpCounters(deps.metrics ?? noMetrics);
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const listen = (socket: Socket, via: ProxyPort, replyFrom: Socket) => {
    socket.on('message', (message: Buffer, from: RemoteInfo) => {
      if (closing) return;
      const task = handlePacket({ ...deps, ctx, log, addresses, counters }, message, from, via, replyFrom)
        .catch((err: unknown) => log.error({ err }, 'proxyDHCP packet handling failed'))
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    });
    socket.on('error', (err) => log.error({ err }, 'proxyDHCP socket error'));
  };
  // Unicast to serverAddress:67 lands on `sender`, the more specific binding (server.ts).
  listen(receiver, 'dhcp', sender);
  listen(sender, 'dhcp', sender);
  listen(pxe, 'pxe', pxe);
  log.info({ serverAddress: config.serverAddress, port: config.port, proxyPort: config.proxyPort }, 'proxyDHCP listening (boot information only; addresses come from the site DHCP server)');

  return {
    macOf: (address) => addresses.get(address),
    async close() {
      closing = true;
      await Promise.allSettled([...inFlight]);
      await Promise.all([receiver, sender, pxe].map(closeSocket));
      log.info('proxyDHCP closed');
    },
  };
}

interface HandlerDeps extends ProxyDhcpServerDeps {
  readonly ctx: ProxyContext;
  readonly addresses: Map<string, string>;
  readonly counters: DhcpCounters;
}

async function handlePacket(deps: HandlerDeps, message: Buffer, from: RemoteInfo, via: ProxyPort, replyFrom: Socket): Promise<void> {
  const source = `${from.address}:${from.port}`;
  let request: DhcpPacket;
  try {
    request = decodeDhcp(message);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    deps.counters.packets.inc({ server: 'proxy', type: 'malformed' });
    deps.log.debug({ err, from: source, via, length: message.length }, 'malformed DHCP packet ignored');
    return;
  }
  const mac = clientMac(request) ?? formatHexColons(request.chaddr);
  const log = deps.log.child({ mac, xid: `0x${request.xid.toString(16).padStart(8, '0')}` });
  log.trace({ from: source, via, hex: message.toString('hex') }, 'DHCP packet received');
  remember(deps.addresses, heardAddress({ request, via, from }) ?? ofPxeClient(deps.addresses, osRequestAddress({ request, via, from })));
  deps.counters.packets.inc({ server: 'proxy', type: typeLabel(request.options.messageType) });

  const screen = screenProxy(deps.ctx, request, via);
  if (screen.kind === 'ignore') {
    deps.counters.ignored.inc({ server: 'proxy', reason: screen.code });
    log.debug({ from: source, via, code: screen.code, reason: screen.reason }, 'proxyDHCP: not answered');
    return;
  }
  const received = receivedEvents.get(request.options.messageType ?? 0);
  if (received) recordEvent(deps, log, { mac, type: received, detail: via === 'pxe' ? `proxy port ${deps.config.proxyPort}` : 'proxy' });
  let boot: BootDecision;
  try {
    boot = await decideBoot(deps.booter, screen.client);
  } catch (err) {
    log.error({ err, client: screen.client }, 'the Booter failed: request not answered');
    deps.counters.ignored.inc({ server: 'proxy', reason: 'booter-failed' });
    return;
  }
  const outcome = proxyRespond(deps.ctx, { request, via, from, boot });
  if (outcome.kind === 'ignore') {
    deps.counters.ignored.inc({ server: 'proxy', reason: outcome.code });
    log.debug({ code: outcome.code, reason: outcome.reason }, 'proxyDHCP: not answered');
    return;
  }
  const bytes = encodeDhcp(outcome.packet);
  await sendTo(replyFrom, bytes, outcome.dest.port, outcome.dest.address);
  const type = outcome.packet.options.messageType ?? 0;
  deps.counters.replies.inc({ server: 'proxy', type: typeLabel(type) });
  const file = outcome.packet.options.bootFileName ?? outcome.packet.file;
  log.info({ to: `${outcome.dest.address}:${outcome.dest.port}`, file }, `proxy ${messageTypeName(type)} sent`);
  log.trace({ hex: bytes.toString('hex') }, 'DHCP packet sent');
  recordEvent(deps, log, { mac, type: type === MessageType.offer ? 'dhcp-offer' : 'dhcp-ack', detail: `proxy: ${file}` });
}

/** A non-PXE client's address, only when its MAC was heard as a PXE client (a machine we boot). */
function ofPxeClient(addresses: Map<string, string>, heard: { ip: string; mac: string } | undefined): { ip: string; mac: string } | undefined {
  if (!heard) return undefined;
  for (const mac of addresses.values()) if (mac === heard.mac) return heard;
  return undefined;
}

function remember(addresses: Map<string, string>, heard: { ip: string; mac: string } | undefined): void {
  if (heard) setMostRecent(addresses, heard.ip, heard.mac, MAX_ADDRESSES);
}

function recordEvent(deps: HandlerDeps, log: Logger, event: { mac: string; type: EventType; detail?: string }): void {
  try {
    deps.events.record(event);
  } catch (err) {
    log.error({ err, event: event.type }, 'recording the machine event failed');
  }
}
