// The DHCP policy: one decoded request in, one outcome out (STYLE.md §3). Pure: the lease pool is
// only read here; the lease to write comes back in the outcome and the server commits it before
// sending (ARCHITECTURE.md "A lease is written before the ACK that grants it leaves the socket").
import type { DhcpConfig } from '../config/schema.js';
import type { BootClient } from '../machines/boot.js';
import {
  BootOp, MessageType, messageTypeName, parseIpv4, ZERO_ADDRESS, type DhcpPacket,
} from './codec/index.js';
import { bootReply, type BootDecision, type LoaderChoice } from './boot-file.js';
import { classifyClient } from './classify.js';
import type { Lease } from './lease-store.js';
import type { LeasePool, PendingOffer } from './leases.js';
import { segmentOf, type Segment } from './network.js';
import { matchPlacement, relayInfo } from './placement.js';
import {
  grantReply, isOurServerId, nakReply, replyDestination, requestedHostname,
  type Destination, type ReplyContext,
} from './reply.js';

export interface RespondContext {
  readonly config: DhcpConfig;
  readonly leases: LeasePool;
  readonly bootScriptUrl: (mac: string) => string;
  /** Loaders for UEFI firmware without iPXE; defaults to snponly.efi over TFTP and no HTTP Boot. */
  readonly loaders?: LoaderChoice;
}

export interface RespondInput {
  readonly request: DhcpPacket;
  /** The Booter's answer for this client, resolved beforehand (boot-file.ts decideBoot). */
  readonly boot: BootDecision;
  /** Unix milliseconds. */
  readonly now: number;
  /** classifyClient(request), when the caller has it already (the server does: it asked the Booter). */
  readonly client?: BootClient | undefined;
}

/** Expected reasons not to answer; values, not errors (STYLE.md §7). */
export type IgnoreCode =
  | 'not-a-request' // a BOOTREPLY (another server's, or our own echo)
  | 'not-dhcp' // plain BOOTP without option 53: not served
  | 'not-ethernet' // no 6-octet Ethernet chaddr to key the lease on
  | 'foreign-relay' // relayed from a subnet we do not serve
  | 'unsupported-message' // a server-to-client type, or one RFC 2131 does not define
  | 'booter-declined' // the Booter returned null for this client
  | 'pool-exhausted' // no free address (operators need to know: logged at warn)
  | 'other-server' // SELECTING another server's offer, or RELEASE/DECLINE meant for another server
  | 'unknown-client' // INIT-REBOOT/RENEWING with no lease record here: RFC 2131 §4.3.2 says stay silent
  | 'not-client-lease' // RELEASE/DECLINE of an address this client does not hold
  | 'not-authoritative' // a NAK was due, but dhcp.authoritative is off
  | 'malformed-request'; // required fields missing for this message type

export type Outcome =
  | {
    readonly kind: 'reply';
    readonly packet: DhcpPacket;
    readonly dest: Destination;
    /** Write this before sending (ACK). */
    readonly lease?: Lease;
    /** Hold this address for the client (OFFER; memory only). */
    readonly offer?: PendingOffer;
  }
  /** No reply, but a lease changes (RELEASE, DECLINE). */
  | { readonly kind: 'update'; readonly lease: Lease; readonly reason: string }
  | { readonly kind: 'ignore'; readonly code: IgnoreCode; readonly reason: string };

const ignore = (code: IgnoreCode, reason: string): Outcome => ({ kind: 'ignore', code, reason });

export function respond(ctx: RespondContext, input: RespondInput): Outcome {
  const { request, boot } = input;
  if (request.op !== BootOp.request) return ignore('not-a-request', 'BOOTREPLY received');
  const type = request.options.messageType;
  if (type === undefined) return ignore('not-dhcp', 'no option 53: plain BOOTP is not served');
  const client = 'client' in input ? input.client : classifyClient(request);
  if (!client) return ignore('not-ethernet', `htype ${request.htype} / hlen ${request.chaddr.length} is not Ethernet`);
  const segment = clientSegment(ctx, request);
  if (!segment) return ignore('foreign-relay', `relay ${request.giaddr} is on no served subnet`);
  const reply: ReplyContext = { network: ctx.leases.network, segment };
  const step: Step = { ctx, reply, request, client, boot, now: input.now };
  switch (type) {
    case MessageType.discover: return onDiscover(step);
    case MessageType.request: return onRequest(step);
    case MessageType.inform: return onInform(step);
    case MessageType.release: return onRelease(step);
    case MessageType.decline: return onDecline(step);
    default: return ignore('unsupported-message', `${messageTypeName(type)} is not a client message we serve`);
  }
}

/**
 * The segment a request belongs to: a placement rule's subnet (option 82), else the relay's (giaddr,
 * RFC 2131 §4.3.1), else, for a unicast renewal that bypasses the relay (RFC 2131 §4.4.5), the one
 * holding ciaddr; else the local segment.
 */
function clientSegment(ctx: RespondContext, request: DhcpPacket): Segment | undefined {
  const { network } = ctx.leases;
  const rule = matchPlacement(ctx.config.placement, relayInfo(request));
  if (rule?.subnet !== undefined) return network.segments.find((segment) => segment.name === rule.subnet);
  if (request.giaddr !== ZERO_ADDRESS) return segmentOf(network, parseIpv4(request.giaddr)!);
  if (request.ciaddr !== ZERO_ADDRESS) return segmentOf(network, parseIpv4(request.ciaddr)!) ?? network.local;
  return network.local;
}

interface Step {
  readonly ctx: RespondContext;
  readonly reply: ReplyContext;
  readonly request: DhcpPacket;
  readonly client: BootClient;
  readonly boot: BootDecision;
  readonly now: number;
}

function ports(step: Step): { server: number; client: number } {
  return { server: step.ctx.config.port, client: step.ctx.config.clientPort };
}

function declined(step: Step): Outcome | undefined {
  return step.boot.kind === 'do-not-answer'
    ? ignore('booter-declined', `the Booter does not answer ${step.client.mac}`)
    : undefined;
}

/** RFC 2131 §4.3.1. */
function onDiscover(step: Step): Outcome {
  const { ctx, request, client, now } = step;
  const refused = declined(step);
  if (refused) return refused;
  const { segment } = step.reply;
  const plan = ctx.leases.planOffer(segment, client.mac, request.options.requestedAddress, now);
  if (!plan.ok) return ignore('pool-exhausted', `no free address in the pool of ${segment.name}`);
  const packet = grantReply(step.reply, request, {
    type: MessageType.offer,
    address: plan.ip,
    leaseSeconds: segment.options.leaseTime,
    boot: bootReply(client, step.boot, ctx.bootScriptUrl, ctx.loaders),
  });
  return { kind: 'reply', packet, dest: replyDestination(request, MessageType.offer, ports(step)), offer: plan.offer };
}

/**
 * RFC 2131 §4.3.2. The client's state shows in the request: option 54 -> SELECTING; option 50
 * without 54 -> INIT-REBOOT; neither but ciaddr -> RENEWING (unicast) or REBINDING (broadcast).
 */
function onRequest(step: Step): Outcome {
  const { ctx, request, client, now } = step;
  const { serverId, requestedAddress } = request.options;
  if (serverId !== undefined && !isOurServerId(step.reply, serverId)) {
    return ignore('other-server', `${client.mac} chose server ${serverId}`);
  }
  const refused = declined(step);
  if (refused) return refused;

  const selecting = serverId !== undefined;
  const address = requestedAddress ?? (request.ciaddr !== ZERO_ADDRESS ? request.ciaddr : undefined);
  if (address === undefined) return ignore('malformed-request', 'DHCPREQUEST without option 50 or ciaddr');
  if (selecting && requestedAddress === undefined) {
    return ignore('malformed-request', 'DHCPREQUEST in SELECTING state without option 50');
  }

  const { segment } = step.reply;
  const status = ctx.leases.status(segment, address, client.mac, now);
  if (status === 'outside-subnet') return nak(step, `${address} is not on ${segment.name}`);
  // Without a record we are not this client's server: stay silent so that its own server can answer
  // (RFC 2131 §4.3.2 INIT-REBOOT "MUST remain silent"; RENEWING/REBINDING likewise). SELECTING always
  // follows our own OFFER, so a missing record there means the offer expired: grant if still free.
  if (!selecting && !ctx.leases.leaseOf(client.mac)) {
    return ignore('unknown-client', `no lease of ${client.mac} here; ${address} is not ours to confirm`);
  }
  if (status !== 'free' && status !== 'held-by-client') {
    return nak(step, `${address} is not available to ${client.mac} (${status})`);
  }

  const lease = ctx.leases.planBind(segment, client.mac, address, now, requestedHostname(request));
  const packet = grantReply(step.reply, request, {
    type: MessageType.ack,
    address,
    leaseSeconds: segment.options.leaseTime,
    boot: bootReply(client, step.boot, ctx.bootScriptUrl, ctx.loaders),
  });
  return { kind: 'reply', packet, dest: replyDestination(request, MessageType.ack, ports(step)), lease };
}

/**
 * RFC 2131 §4.3.2: a NAK tells the client its address is wrong. Only an authoritative server may say
 * so; otherwise silence lets the server that owns the address answer. Some firmware (Dell's PXE
 * stack) gives up the whole boot on a NAK, which is why `dhcp.authoritative` can turn them off.
 */
function nak(step: Step, message: string): Outcome {
  if (!step.ctx.config.authoritative) return ignore('not-authoritative', `would NAK (${message}); dhcp.authoritative is off`);
  return {
    kind: 'reply',
    packet: nakReply(step.reply, step.request, message),
    dest: replyDestination(step.request, MessageType.nak, ports(step)),
  };
}

/** RFC 2131 §4.3.5: configuration only, for a client that has its address already. */
function onInform(step: Step): Outcome {
  const { ctx, request, client } = step;
  const refused = declined(step);
  if (refused) return refused;
  if (request.ciaddr === ZERO_ADDRESS) return ignore('malformed-request', 'DHCPINFORM without ciaddr');
  const packet = grantReply(step.reply, request, {
    type: MessageType.ack,
    boot: bootReply(client, step.boot, ctx.bootScriptUrl, ctx.loaders),
  });
  return { kind: 'reply', packet, dest: replyDestination(request, MessageType.ack, ports(step)) };
}

/** RFC 2131 §4.3.4: the client gives its address (ciaddr) back. No reply. */
function onRelease(step: Step): Outcome {
  const { ctx, request, client, now } = step;
  const { serverId } = request.options;
  if (serverId !== undefined && !isOurServerId(step.reply, serverId)) {
    return ignore('other-server', `DHCPRELEASE for server ${serverId}`);
  }
  const lease = ctx.leases.leaseOf(client.mac);
  if (!lease || lease.ip !== request.ciaddr || lease.state === 'declined' || lease.state === 'released') {
    return ignore('not-client-lease', `${client.mac} holds no lease on ${request.ciaddr}`);
  }
  return { kind: 'update', lease: ctx.leases.planRelease(lease, now), reason: `${request.ciaddr} released` };
}

/** RFC 2131 §4.3.3: the client found the address in use (ARP); keep it out of the pool. No reply. */
function onDecline(step: Step): Outcome {
  const { ctx, request, client, now } = step;
  const { serverId, requestedAddress } = request.options;
  if (serverId !== undefined && !isOurServerId(step.reply, serverId)) {
    return ignore('other-server', `DHCPDECLINE for server ${serverId}`);
  }
  const lease = ctx.leases.leaseOf(client.mac);
  if (requestedAddress === undefined || !lease || lease.ip !== requestedAddress) {
    return ignore('not-client-lease', `${client.mac} declined ${requestedAddress ?? 'nothing'}, which it does not hold`);
  }
  return {
    kind: 'update',
    lease: ctx.leases.planDecline(lease, now),
    reason: `${requestedAddress} declined: quarantined for one lease time`,
  };
}
