// The DHCP listener: the only file of src/dhcp that touches sockets (STYLE.md §1). It decodes,
// asks the Booter, lets respond() decide, writes the lease, then sends.
//
// Two sockets, both on the server port with SO_REUSEADDR (Linux):
// - `receiver`, bound to 0.0.0.0: the only way to receive broadcasts to 255.255.255.255;
// - `sender`, bound to serverAddress: every reply leaves from it. A limited broadcast sent from a
//   socket bound to a specific address leaves through the interface owning that address, with no
//   route needed (net/ipv4/route.c ip_route_output_key_hash_rcu, the "special hack" for multicast
//   and limited broadcast with a source address), so the appliance works in a bare network
//   namespace without a default route: testdata/dhcp/netboot-offer-ipxe-bios.bin went out that way.
//   Its source port is the server port, which iPXE requires of an offer (dhcp.c: peer->sin_port ==
//   BOOTPS_PORT).
// Unicast to serverAddress (renewals, relays) lands on `sender`, the more specific binding; both
// sockets therefore handle incoming messages.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { DhcpConfig } from '../config/schema.js';
import type { Booter, EventSink, EventType } from '../machines/boot.js';
import { decideBoot, type BootDecision, type LoaderChoice } from './boot-file.js';
import { clientMac, classifyClient } from './classify.js';
import {
  BootOp, decodeDhcp, DecodeError, encodeDhcp, formatHexColons, MessageType, messageTypeName, ZERO_ADDRESS,
  type DhcpPacket,
} from './codec/index.js';
import type { LeaseStore } from './lease-store.js';
import { LeasePool } from './leases.js';
import { respond, type Outcome, type RespondContext } from './respond.js';
import { matchPlacement, relayInfo, type RelaySink } from './placement.js';
import { ReplyBatch } from './reply-batch.js';
import { bindSocket, closeSocket, explainBindError, sendTo } from '../udp.js';
import { noMetrics, type Metrics } from '../metrics.js';
import { dhcpCounters, typeLabel, type DhcpCounters } from './metrics.js';

export interface DhcpServerDeps {
  readonly config: DhcpConfig;
  readonly leases: LeaseStore;
  readonly booter: Booter;
  readonly events: EventSink;
  /** Packets by message type, replies, ignored requests (src/metrics.ts); none when absent. */
  readonly metrics?: Metrics;
  readonly log: Logger;
  /** Absolute URL of the iPXE script for a MAC (src/http-boot serves it). */
  readonly bootScriptUrl: (mac: string) => string;
  /** Loaders for UEFI firmware without iPXE (boot-file.ts). */
  readonly loaders?: LoaderChoice;
  /** Where relay agent information (giaddr, option 82) and placements are recorded per MAC. */
  readonly relays?: RelaySink;
  /** Unix milliseconds; tests inject a fake clock. */
  readonly now?: () => number;
}

export interface DhcpServer {
  /** Stops receiving, waits for packets being handled, then closes the sockets. */
  close(): Promise<void>;
}

/** Requests whose reply can carry boot information, so the Booter is asked. */
const bootMessages: ReadonlySet<number> = new Set([MessageType.discover, MessageType.request, MessageType.inform]);

const receivedEvents: ReadonlyMap<number, EventType> = new Map([
  [MessageType.discover, 'dhcp-discover'],
  [MessageType.request, 'dhcp-request'],
  [MessageType.release, 'dhcp-release'],
  [MessageType.decline, 'dhcp-decline'],
]);

const sentEvents: ReadonlyMap<number, EventType> = new Map([
  [MessageType.offer, 'dhcp-offer'],
  [MessageType.ack, 'dhcp-ack'],
  [MessageType.nak, 'dhcp-nak'],
]);

export async function startDhcpServer(deps: DhcpServerDeps): Promise<DhcpServer> {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ subsystem: 'dhcp' });
  const leases = new LeasePool(deps.leases, config, now());
  const ctx: RespondContext = {
    config,
    leases,
    bootScriptUrl: deps.bootScriptUrl,
    ...(deps.loaders ? { loaders: deps.loaders } : {}),
  };
  const batch = new ReplyBatch(() => leases.flush(now()), () => leases.durable());

  const receiver = createSocket({ type: 'udp4', reuseAddr: true });
  const sender = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await bindSocket(receiver, config.port, '0.0.0.0');
    await bindSocket(sender, config.port, config.serverAddress);
  } catch (err) {
    await Promise.all([closeSocket(receiver), closeSocket(sender)]);
    throw explainBindError(err, {
      hostKey: 'dhcp.serverAddress', portKey: 'dhcp.port', host: config.serverAddress, port: config.port,
      usualSuspects: 'isc-dhcp-server, kea, dnsmasq',
    });
  }
  sender.setBroadcast(true); // SO_BROADCAST: replies to 255.255.255.255

  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const handlerDeps: HandlerDeps = { ...deps, ctx, log, now, sender, batch, counters: dhcpCounters(deps.metrics ?? noMetrics) };
  const onMessage = (message: Buffer, from: RemoteInfo): void => {
    if (closing) return;
    const task = handlePacket(handlerDeps, message, from)
      .catch((err: unknown) => log.error({ err }, 'DHCP packet handling failed'))
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };
  for (const socket of [receiver, sender]) {
    socket.on('message', onMessage);
    socket.on('error', (err) => log.error({ err }, 'DHCP socket error'));
  }
  log.info({
    serverAddress: config.serverAddress, port: config.port,
    subnets: leases.network.segments.map((segment) => segment.name), reservations: config.reservations.length,
  }, 'DHCP server listening');

  return {
    async close() {
      closing = true;
      await Promise.allSettled([...inFlight]);
      await Promise.all([closeSocket(receiver), closeSocket(sender)]);
      log.info('DHCP server closed');
    },
  };
}

interface HandlerDeps extends DhcpServerDeps {
  readonly ctx: RespondContext;
  readonly log: Logger;
  readonly now: () => number;
  readonly sender: Socket;
  readonly batch: ReplyBatch;
  readonly counters: DhcpCounters;
}

async function handlePacket(deps: HandlerDeps, message: Buffer, from: RemoteInfo): Promise<void> {
  const source = `${from.address}:${from.port}`;
  let request: DhcpPacket;
  try {
    request = decodeDhcp(message);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    deps.counters.packets.inc({ server: 'dhcp', type: 'malformed' });
    deps.log.debug({ err, from: source, length: message.length }, 'malformed DHCP packet ignored');
    if (deps.log.isLevelEnabled('trace')) deps.log.trace({ from: source, hex: message.toString('hex') }, 'malformed DHCP packet');
    return;
  }
  const ethernetMac = clientMac(request);
  const mac = ethernetMac ?? formatHexColons(request.chaddr);
  const log = deps.log.child({ mac, xid: `0x${request.xid.toString(16).padStart(8, '0')}` });
  const type = request.options.messageType;
  deps.counters.packets.inc({ server: 'dhcp', type: typeLabel(type) });
  // Hex dumps only when trace is on: building one costs more than decoding the packet.
  if (log.isLevelEnabled('trace')) log.trace({ from: source, hex: message.toString('hex') }, 'DHCP packet received');
  log.debug({ from: source, type: type === undefined ? 'BOOTP' : messageTypeName(type) }, 'DHCP request');
  // The timeline gets one event per request: the reply (offer, ack, nak) when there is one, else the
  // request itself with why it went unanswered. Four events per DORA were a third of the server's
  // time under load, and "dhcp-discover" next to "dhcp-offer" says nothing the offer does not.
  const received = type !== undefined && request.op === BootOp.request && ethernetMac ? receivedEvents.get(type) : undefined;
  const recordRequest = (why: string): void => {
    if (received) recordEvent(deps, log, { mac, type: received, detail: why });
  };

  const client = classifyClient(request);
  let boot: BootDecision = { kind: 'not-a-boot-client' };
  if (client && type !== undefined && bootMessages.has(type)) {
    try {
      boot = await decideBoot(deps.booter, client);
    } catch (err) {
      log.error({ err, client }, 'the Booter failed: request not answered');
      deps.counters.ignored.inc({ server: 'dhcp', reason: 'booter-failed' });
      recordRequest('not answered: the Booter failed');
      return;
    }
  }
  const outcome = respond(deps.ctx, { request, boot, now: deps.now(), client });
  if (outcome.kind !== 'ignore' || outcome.code !== 'foreign-relay') recordRelay(deps, log, mac, request);
  try {
    await carryOut(deps, log, mac, outcome, recordRequest);
  } catch (err) {
    recordRequest(`not answered: ${(err as Error).message}`);
    throw err;
  }
}

/** Where the client is plugged in (giaddr, option 82) and where a placement rule puts it. */
function recordRelay(deps: HandlerDeps, log: Logger, mac: string, request: DhcpPacket): void {
  const info = relayInfo(request);
  if (!info || !deps.relays || !clientMac(request)) return;
  const rule = matchPlacement(deps.config.placement, info);
  try {
    deps.relays.record(mac, info, { ...(rule?.zone ? { zone: rule.zone } : {}), ...(rule?.pool ? { pool: rule.pool } : {}) });
  } catch (err) {
    log.error({ err }, 'recording the relay information failed');
  }
}

async function carryOut(
  deps: HandlerDeps, log: Logger, mac: string, outcome: Outcome, recordRequest: (why: string) => void,
): Promise<void> {
  switch (outcome.kind) {
    case 'ignore':
      deps.counters.ignored.inc({ server: 'dhcp', reason: outcome.code });
      recordRequest(`ignored: ${outcome.reason}`);
      if (outcome.code === 'pool-exhausted') {
        log.warn({ reason: outcome.reason }, 'DHCP pool exhausted: widen dhcp.pool or shorten dhcp.leaseTime');
      } else {
        log.debug({ code: outcome.code, reason: outcome.reason }, 'DHCP request ignored');
      }
      return;
    case 'update':
      deps.ctx.leases.commit(outcome.lease);
      deps.ctx.leases.flush(deps.now());
      log.info({ ip: outcome.lease.ip, state: outcome.lease.state }, outcome.reason);
      recordRequest(outcome.reason); // RELEASE and DECLINE get no reply by design (RFC 2131 §4.3.3-4)
      return;
    case 'reply': {
      const bytes = encodeDhcp(outcome.packet);
      const { dest } = outcome;
      if (outcome.offer) deps.ctx.leases.hold(outcome.offer);
      if (outcome.lease) {
        // In memory now (the next request sees it); committed and flushed to disk before the reply
        // leaves, with the rest of the batch: a crash after the send loses nothing (ARCHITECTURE.md).
        deps.ctx.leases.commit(outcome.lease);
        await deps.batch.add(() => sendTo(deps.sender, bytes, dest.port, dest.address));
      } else {
        await sendTo(deps.sender, bytes, dest.port, dest.address);
      }
      const type = outcome.packet.options.messageType ?? 0;
      deps.counters.replies.inc({ server: 'dhcp', type: typeLabel(type) });
      // An ACK to INFORM grants no address: the client's own (ciaddr) is the one to show.
      const ip = outcome.packet.yiaddr === ZERO_ADDRESS ? outcome.packet.ciaddr : outcome.packet.yiaddr;
      log.info({ ip, to: `${outcome.dest.address}:${outcome.dest.port}` }, `${messageTypeName(type)} sent`);
      if (log.isLevelEnabled('trace')) log.trace({ hex: bytes.toString('hex') }, 'DHCP packet sent');
      const sent = sentEvents.get(type);
      if (sent) {
        const detail = type === MessageType.nak ? outcome.packet.options.message : ip;
        recordEvent(deps, log, detail ? { mac, type: sent, detail } : { mac, type: sent });
      }
      return;
    }
  }
}

function recordEvent(
  deps: HandlerDeps, log: Logger, event: { mac: string; type: EventType; detail?: string },
): void {
  try {
    deps.events.record(event);
  } catch (err) {
    log.error({ err, event: event.type }, 'recording the machine event failed');
  }
}
