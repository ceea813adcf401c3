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
import { ConfigError } from '../errors.js';
import type { Booter, EventSink, EventType } from '../machines/boot.js';
import { decideBoot, type BootDecision } from './boot-file.js';
import { clientMac, classifyClient } from './classify.js';
import {
  BootOp, decodeDhcp, DecodeError, encodeDhcp, formatHexColons, MessageType, messageTypeName, ZERO_ADDRESS,
  type DhcpPacket,
} from './codec/index.js';
import type { LeaseStore } from './lease-store.js';
import { LeasePool } from './leases.js';
import { respond, type Outcome, type RespondContext } from './respond.js';

export interface DhcpServerDeps {
  readonly config: DhcpConfig;
  readonly leases: LeaseStore;
  readonly booter: Booter;
  readonly events: EventSink;
  readonly log: Logger;
  /** Absolute URL of the iPXE script for a MAC (src/http-boot serves it). */
  readonly bootScriptUrl: (mac: string) => string;
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
  const ctx: RespondContext = {
    config,
    leases: new LeasePool(deps.leases, config, now()),
    bootScriptUrl: deps.bootScriptUrl,
  };

  const receiver = createSocket({ type: 'udp4', reuseAddr: true });
  const sender = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await bindSocket(receiver, config.port, '0.0.0.0');
    await bindSocket(sender, config.port, config.serverAddress);
  } catch (err) {
    await Promise.all([closeSocket(receiver), closeSocket(sender)]);
    throw explainBindError(err, config);
  }
  sender.setBroadcast(true); // SO_BROADCAST: replies to 255.255.255.255

  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const onMessage = (message: Buffer, from: RemoteInfo): void => {
    if (closing) return;
    const task = handlePacket({ ...deps, ctx, log, now, sender }, message, from)
      .catch((err: unknown) => log.error({ err }, 'DHCP packet handling failed'))
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };
  for (const socket of [receiver, sender]) {
    socket.on('message', onMessage);
    socket.on('error', (err) => log.error({ err }, 'DHCP socket error'));
  }
  log.info({ serverAddress: config.serverAddress, port: config.port, pool: config.pool }, 'DHCP server listening');

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
}

async function handlePacket(deps: HandlerDeps, message: Buffer, from: RemoteInfo): Promise<void> {
  const source = `${from.address}:${from.port}`;
  let request: DhcpPacket;
  try {
    request = decodeDhcp(message);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    deps.log.debug({ err, from: source, length: message.length }, 'malformed DHCP packet ignored');
    deps.log.trace({ from: source, hex: message.toString('hex') }, 'malformed DHCP packet');
    return;
  }
  const mac = clientMac(request) ?? formatHexColons(request.chaddr);
  const log = deps.log.child({ mac, xid: `0x${request.xid.toString(16).padStart(8, '0')}` });
  const type = request.options.messageType;
  log.trace({ from: source, hex: message.toString('hex') }, 'DHCP packet received');
  log.debug({ from: source, type: type === undefined ? 'BOOTP' : messageTypeName(type) }, 'DHCP request');
  const received = type === undefined ? undefined : receivedEvents.get(type);
  if (received && request.op === BootOp.request && clientMac(request)) recordEvent(deps, log, { mac, type: received });

  const client = classifyClient(request);
  let boot: BootDecision = { kind: 'not-a-boot-client' };
  if (client && type !== undefined && bootMessages.has(type)) {
    try {
      boot = await decideBoot(deps.booter, client);
    } catch (err) {
      log.error({ err, client }, 'the Booter failed: request not answered');
      return;
    }
  }
  const outcome = respond(deps.ctx, { request, boot, now: deps.now() });
  await carryOut(deps, log, mac, outcome);
}

async function carryOut(deps: HandlerDeps, log: Logger, mac: string, outcome: Outcome): Promise<void> {
  switch (outcome.kind) {
    case 'ignore':
      if (outcome.code === 'pool-exhausted') {
        log.warn({ reason: outcome.reason }, 'DHCP pool exhausted: widen dhcp.pool or shorten dhcp.leaseTime');
      } else {
        log.debug({ code: outcome.code, reason: outcome.reason }, 'DHCP request ignored');
      }
      return;
    case 'update':
      deps.ctx.leases.commit(outcome.lease);
      log.info({ ip: outcome.lease.ip, state: outcome.lease.state }, outcome.reason);
      return;
    case 'reply': {
      const bytes = encodeDhcp(outcome.packet);
      // Durable before the reply leaves: a crash after this line loses nothing (ARCHITECTURE.md).
      if (outcome.lease) deps.ctx.leases.commit(outcome.lease);
      await send(deps.sender, bytes, outcome.dest.port, outcome.dest.address);
      const type = outcome.packet.options.messageType ?? 0;
      // An ACK to INFORM grants no address: the client's own (ciaddr) is the one to show.
      const ip = outcome.packet.yiaddr === ZERO_ADDRESS ? outcome.packet.ciaddr : outcome.packet.yiaddr;
      log.info({ ip, to: `${outcome.dest.address}:${outcome.dest.port}` }, `${messageTypeName(type)} sent`);
      log.trace({ hex: bytes.toString('hex') }, 'DHCP packet sent');
      const sent = sentEvents.get(type);
      if (sent) {
        const detail = type === MessageType.nak ? outcome.packet.options.message : ip;
        recordEvent(deps, log, { mac, type: sent, ...(detail ? { detail } : {}) });
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

/** Turns the bind failures an operator can fix into messages that say how. */
function explainBindError(err: unknown, config: DhcpConfig): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRNOTAVAIL') {
    return new ConfigError(
      `dhcp.serverAddress ${config.serverAddress} is not an address of this host: assign it to the boot interface`,
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new ConfigError(
      `binding UDP port ${config.port} needs root or CAP_NET_BIND_SERVICE (or set dhcp.port for tests)`,
      { cause: err },
    );
  }
  return err;
}

function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // never bound, or already closed
    }
  });
}

function send(socket: Socket, bytes: Buffer, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve()));
  });
}
