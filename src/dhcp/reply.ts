// Building replies (RFC 2131 §4.3.1 Table 3) and choosing where they go (RFC 2131 §4.1). Pure.
import {
  BROADCAST_FLAG, formatIpv4, LIMITED_BROADCAST, MessageType, parseIpv4, ZERO_ADDRESS,
  type DhcpOptions, type DhcpPacket,
} from './codec/index.js';
import type { BootReply } from './boot-file.js';
import { subnetMaskText, type Segment, type ServedNetwork } from './network.js';
import { echoOptions, replyTo, type MutableOptions } from './reply-fields.js';

export interface Destination {
  readonly address: string;
  readonly port: number;
  /** True when the address is the limited broadcast: the socket needs SO_BROADCAST. */
  readonly broadcast: boolean;
}

export interface ReplyContext {
  readonly network: ServedNetwork;
  /** The client's segment: its mask and options go into the reply. */
  readonly segment: Segment;
}

/**
 * RFC 2131 §4.1, "the server ... sends", in its order:
 * - giaddr set: to the relay agent, on the server port (67), which the relay listens on;
 * - NAK without giaddr: always broadcast (the client's address is wrong by definition);
 * - ciaddr set (RENEWING, REBINDING, INFORM): unicast to ciaddr on the client port;
 * - otherwise broadcast to 255.255.255.255 on the client port. RFC 2131 would unicast to yiaddr
 *   when the broadcast flag is clear, but that needs an ARP entry for an address the client does
 *   not have yet, which a UDP socket cannot create; §4.1 allows broadcast instead.
 */
export function replyDestination(
  request: DhcpPacket, replyType: MessageType, ports: { server: number; client: number },
): Destination {
  if (request.giaddr !== ZERO_ADDRESS) return { address: request.giaddr, port: ports.server, broadcast: false };
  if (replyType !== MessageType.nak && request.ciaddr !== ZERO_ADDRESS) {
    return { address: request.ciaddr, port: ports.client, broadcast: false };
  }
  return { address: LIMITED_BROADCAST, port: ports.client, broadcast: true };
}

/** Per segment, built once: the same for every reply on it. Frozen, so no reply can change it. */
const networkOptionsCache = new WeakMap<Segment, Readonly<DhcpOptions>>();

/** Subnet mask, router, DNS, domain, NTP and MTU of the client's segment, as configured. */
function networkOptions(segment: Segment): Readonly<DhcpOptions> {
  let cached = networkOptionsCache.get(segment);
  if (cached) return cached;
  const { options } = segment;
  cached = Object.freeze({
    subnetMask: subnetMaskText(segment.subnet),
    ...(options.router ? { routers: [options.router] } : {}),
    ...(options.dns.length > 0 ? { dnsServers: options.dns } : {}),
    ...(options.domain ? { domainName: options.domain } : {}),
    ...(options.ntp.length > 0 ? { ntpServers: options.ntp } : {}),
    ...(options.mtu === undefined ? {} : { interfaceMtu: options.mtu }),
  });
  networkOptionsCache.set(segment, cached);
  return cached;
}

export interface GrantFields {
  readonly type: typeof MessageType.offer | typeof MessageType.ack;
  /** The address granted; undefined for an ACK to INFORM (RFC 2131 §4.3.5: no yiaddr, no lease). */
  readonly address?: string;
  readonly leaseSeconds?: number;
  readonly boot?: BootReply;
}

/** OFFER or ACK: address, lease times, network options and boot information. */
export function grantReply(ctx: ReplyContext, request: DhcpPacket, fields: GrantFields): DhcpPacket {
  // The request's ciaddr is kept in an ACK (Table 3: "ciaddr from DHCPREQUEST or 0"), never in an OFFER.
  const ciaddr = fields.type === MessageType.ack ? request.ciaddr : ZERO_ADDRESS;
  const serverAddress = formatIpv4(ctx.network.serverAddress);
  // Assembled by assignment (reply-fields.ts says why); later assignments win.
  const options: MutableOptions = { messageType: fields.type, serverId: serverAddress };
  if (fields.leaseSeconds !== undefined) {
    // Option 51 with T1 = 0.5 and T2 = 0.875 of it (RFC 2131 §4.4.5 defaults).
    options.leaseTime = fields.leaseSeconds;
    options.renewalTime = Math.floor(fields.leaseSeconds * 0.5);
    options.rebindingTime = Math.floor(fields.leaseSeconds * 0.875);
  }
  Object.assign(options, networkOptions(ctx.segment), fields.boot?.options);
  echoOptions(request, options);
  return replyTo(request, {
    ciaddr,
    yiaddr: fields.address ?? ZERO_ADDRESS,
    // Next server: where TFTP loaders come from (FACTS.md: the client uses siaddr, not option 54).
    siaddr: serverAddress,
    file: fields.boot?.file ?? '',
    options,
  });
}

/** NAK (RFC 2131 Table 3): only 53, 54, 56 and the echoes; no addresses, no file. */
export function nakReply(ctx: ReplyContext, request: DhcpPacket, message: string): DhcpPacket {
  const relayed = request.giaddr !== ZERO_ADDRESS;
  const options: MutableOptions = { messageType: MessageType.nak, serverId: formatIpv4(ctx.network.serverAddress), message };
  echoOptions(request, options);
  return replyTo(request, {
    // RFC 2131 §4.3.2: a relayed NAK sets the broadcast bit so that the relay broadcasts it on.
    flags: relayed ? request.flags | BROADCAST_FLAG : request.flags,
    ciaddr: ZERO_ADDRESS,
    yiaddr: ZERO_ADDRESS,
    siaddr: ZERO_ADDRESS,
    file: '',
    options,
  });
}

/** The client's hostname (option 12) without the NUL some clients append (RFC 2132 §2 says not to). */
export function requestedHostname(request: DhcpPacket): string | undefined {
  const name = request.options.hostName?.replace(/\0+$/, '');
  return name ? name : undefined;
}

export function isOurServerId(ctx: ReplyContext, serverId: string): boolean {
  return parseIpv4(serverId) === ctx.network.serverAddress;
}
