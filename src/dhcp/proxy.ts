// proxyDHCP (PXE spec 2.1 §2.2.3 and §2.5): beside a site's own DHCP server, answer PXE clients with
// boot information and no address. The site server hands out the address; we never touch a lease.
// Pure: one decoded request (and the Booter's decision) in, one outcome out (STYLE.md §3).
//
// The exchange, as PXE 2.1 §2.2.3 Table 2-1 lays it out and dnsmasq's `dhcp-range=...,proxy` runs it:
// 1. the client broadcasts DHCPDISCOVER to 67; the site server offers an address, we offer a boot file
//    (yiaddr 0.0.0.0, option 60 echoed, option 54 and siaddr = us);
// 2. the client takes the site server's address (DHCPREQUEST naming that server: not ours to answer);
// 3. a client that did not find everything in our offer asks us again, unicast to port 4011 with
//    its new address in ciaddr, and gets a DHCPACK with the boot file, sent back where it came from.
import type { BootClient } from '../machines/boot.js';
import {
  BootOp, BROADCAST_FLAG, MessageType, messageTypeName, ZERO_ADDRESS, type DhcpOptions, type DhcpPacket,
} from './codec/index.js';
import { bootReply, type BootDecision, type BootReply, type LoaderChoice } from './boot-file.js';
import { classifyClient, clientMac } from './classify.js';
import { replyDestination, type Destination } from './reply.js';
import { echoOptions, replyTo, type MutableOptions } from './reply-fields.js';

/** Which socket a request came in on: the DHCP server port (67) or the PXE boot server port (4011). */
export type ProxyPort = 'dhcp' | 'pxe';

export interface ProxyContext {
  /** Our address: option 54, siaddr, and the server id a client names when it asks us. */
  readonly serverAddress: string;
  readonly ports: { readonly server: number; readonly client: number };
  readonly bootScriptUrl: (mac: string) => string;
  readonly loaders?: LoaderChoice;
}

export interface ProxyInput {
  readonly request: DhcpPacket;
  readonly via: ProxyPort;
  /** The datagram's source: a port-4011 reply goes back there (dnsmasq does the same). */
  readonly from: { readonly address: string; readonly port: number };
  /** The Booter's answer, resolved beforehand; ask it only when screenProxy() says `answer`. */
  readonly boot: BootDecision;
}

/** Expected reasons not to answer (STYLE.md §7). Most traffic a proxy hears is not for it. */
export type ProxyIgnoreCode =
  | 'not-a-request' // a BOOTREPLY (the site server's, or our own echo)
  | 'not-dhcp' // plain BOOTP: PXE clients always speak DHCP
  | 'not-ethernet'
  | 'not-pxe' // no option 60 PXEClient/HTTPClient: an ordinary client, the site server's alone
  | 'other-server' // a REQUEST for the site server (or for no server in particular)
  | 'unsupported-message' // anything but DISCOVER on 67 and REQUEST on 4011 (or on 67 naming us)
  | 'booter-declined' // the Booter returned null
  | 'no-boot-file' // nothing to boot for this firmware/arch, or purpose `none`
  | 'no-return-address'; // a 4011 request with neither ciaddr nor a source address

export type ProxyOutcome =
  | { readonly kind: 'reply'; readonly packet: DhcpPacket; readonly dest: Destination }
  | { readonly kind: 'ignore'; readonly code: ProxyIgnoreCode; readonly reason: string };

export type ProxyScreen =
  | { readonly kind: 'answer'; readonly client: BootClient; readonly reply: typeof MessageType.offer | typeof MessageType.ack }
  | Extract<ProxyOutcome, { kind: 'ignore' }>;

const ignore = (code: ProxyIgnoreCode, reason: string) => ({ kind: 'ignore', code, reason }) as const;

/** The vendor classes of PXE (PXE 2.1 §2.2.5) and UEFI HTTP Boot (UEFI 2.5+ §24.7.2) clients. */
const bootVendorClass = /^(PXEClient|HTTPClient)/;

/**
 * Whether a request is one we answer, before the Booter is asked: a laptop on the site network, or a
 * PXE client talking to the site server, never reaches the Booter.
 */
export function screenProxy(ctx: ProxyContext, request: DhcpPacket, via: ProxyPort): ProxyScreen {
  if (request.op !== BootOp.request) return ignore('not-a-request', 'BOOTREPLY received');
  const type = request.options.messageType;
  if (type === undefined) return ignore('not-dhcp', 'no option 53: plain BOOTP is not served');
  const client = classifyClient(request);
  if (!client) return ignore('not-ethernet', `htype ${request.htype} / hlen ${request.chaddr.length} is not Ethernet`);
  if (!bootVendorClass.test(request.options.vendorClassId ?? '')) {
    return ignore('not-pxe', `option 60 ${JSON.stringify(request.options.vendorClassId ?? '')} is not a PXE client`);
  }
  const { serverId } = request.options;
  if (serverId !== undefined && serverId !== ctx.serverAddress) {
    return ignore('other-server', `${client.mac} chose server ${serverId}`);
  }
  const named = serverId !== undefined;
  if (via === 'dhcp' && type === MessageType.discover) return { kind: 'answer', client, reply: MessageType.offer };
  // On 67 a REQUEST is the site server's unless it names us (INIT-REBOOT, RENEWING, REBINDING carry no
  // server id); on 4011 every REQUEST is for us (PXE 2.1 §2.2.3 step 7: the boot server request).
  if (type === MessageType.request && (via === 'pxe' || named)) return { kind: 'answer', client, reply: MessageType.ack };
  if (type === MessageType.request) return ignore('other-server', `DHCPREQUEST of ${client.mac} names no server: the site server's`);
  return ignore('unsupported-message', `${messageTypeName(type)} on ${via === 'dhcp' ? 'the DHCP port' : 'the PXE port'} is not served by a proxy`);
}

export function proxyRespond(ctx: ProxyContext, input: ProxyInput): ProxyOutcome {
  const { request, via } = input;
  const screen = screenProxy(ctx, request, via);
  if (screen.kind === 'ignore') return screen;
  const { client } = screen;
  if (input.boot.kind === 'do-not-answer') return ignore('booter-declined', `the Booter does not answer ${client.mac}`);
  const boot = bootReply(client, input.boot, ctx.bootScriptUrl, ctx.loaders);
  if (!boot) return ignore('no-boot-file', `nothing to boot for ${client.firmware} ${client.arch} (${input.boot.kind})`);

  const dest = destination(ctx, input, screen.reply);
  if (!dest) return ignore('no-return-address', `DHCPREQUEST on the PXE port from ${input.from.address} without ciaddr`);
  const offer = screen.reply === MessageType.offer;
  const packet = replyTo(request, {
    // No address to unicast to: a relay must broadcast the offer on (RFC 2131 §4.1, PXE 2.1 §2.5.1).
    flags: offer ? request.flags | BROADCAST_FLAG : request.flags,
    ciaddr: offer ? ZERO_ADDRESS : request.ciaddr,
    yiaddr: ZERO_ADDRESS,
    // Where TFTP loaders come from; iPXE also takes an offer without option 54 by siaddr (dhcp.c pseudo_id).
    siaddr: ctx.serverAddress,
    file: boot.file,
    options: proxyOptions(ctx, request, client, boot, screen.reply, via),
  });
  return { kind: 'reply', packet, dest };
}

/**
 * The address a PXE client has (or is about to have) from the site server, when a request shows it:
 * ciaddr or the source of a 4011 request, option 50 or ciaddr of a REQUEST on 67 (usually the one for
 * the site server, which is broadcast). TFTP and HTTP carry no MAC, and in proxy mode there is no
 * lease to look the address up in; this is how grub.cfg and the timeline still know the machine.
 */
export function heardAddress(input: Omit<ProxyInput, 'boot'>): { ip: string; mac: string } | undefined {
  const { request, via, from } = input;
  if (request.op !== BootOp.request || !bootVendorClass.test(request.options.vendorClassId ?? '')) return undefined;
  const client = classifyClient(request);
  if (!client) return undefined;
  const { messageType, requestedAddress } = request.options;
  const viaCiaddr = request.ciaddr !== ZERO_ADDRESS ? request.ciaddr : undefined;
  const ip = via === 'pxe'
    ? viaCiaddr ?? (from.address !== ZERO_ADDRESS ? from.address : undefined)
    : messageType === MessageType.request ? requestedAddress ?? viaCiaddr : undefined;
  return ip === undefined ? undefined : { ip, mac: client.mac };
}

/**
 * The address a client that is not a PXE client asks the site server for (a REQUEST on 67: option 50
 * or ciaddr), e.g. the DHCP client of a machine's booted commissioning environment. The proxy server
 * keeps it only for a MAC it has already heard as a PXE client, so that a run token's binding to the
 * machine's address (src/machines/boot-auth.ts) follows the machine from its PXE ROM to its OS when
 * the site server gives the OS another address (a client id of its own, or none).
 */
export function osRequestAddress(input: Omit<ProxyInput, 'boot'>): { ip: string; mac: string } | undefined {
  const { request, via } = input;
  if (via !== 'dhcp' || request.op !== BootOp.request || request.options.messageType !== MessageType.request) return undefined;
  if (bootVendorClass.test(request.options.vendorClassId ?? '')) return undefined;
  const mac = clientMac(request);
  const ip = request.options.requestedAddress ?? (request.ciaddr !== ZERO_ADDRESS ? request.ciaddr : undefined);
  return mac === undefined || ip === undefined ? undefined : { ip, mac };
}

/** Port 67: the usual rules (relay, ciaddr, broadcast); port 4011: back to the sender (ciaddr first). */
function destination(ctx: ProxyContext, input: ProxyInput, type: MessageType): Destination | undefined {
  if (input.via === 'dhcp') return replyDestination(input.request, type, ctx.ports);
  const address = input.request.ciaddr !== ZERO_ADDRESS ? input.request.ciaddr : input.from.address;
  if (address === ZERO_ADDRESS || input.from.port === 0) return undefined;
  return { address, port: input.from.port, broadcast: false };
}

function proxyOptions(
  ctx: ProxyContext, request: DhcpPacket, client: BootClient, boot: BootReply, type: MessageType, via: ProxyPort,
): DhcpOptions {
  // 175.176 (iPXE "do not wait for proxyDHCP") belongs to full-mode offers, not to the proxy's own.
  const { ipxeEncapsulated: _unused, ...bootOptions } = boot.options;
  const vendorSpecific = pxeVendorOptions(client, via);
  const { clientMachineId } = request.options;
  const options: MutableOptions = {
    messageType: type,
    serverId: ctx.serverAddress,
    // PXE 2.1 §2.2.5: a proxy offer is one that says "PXEClient"; HTTP Boot needs "HTTPClient" (bootOptions).
    vendorClassId: 'PXEClient',
    ...bootOptions,
  };
  if (vendorSpecific) options.vendorSpecific = vendorSpecific;
  // Option 97 echoed as PXE servers do (dnsmasq pxe_misc); some PXE ROMs match replies on it.
  if (clientMachineId) options.clientMachineId = clientMachineId;
  echoOptions(request, options);
  return options;
}

/**
 * Option 43 (PXE 2.1 §2.2.6): PXE_DISCOVERY_CONTROL (6) = 0x08, "boot the file in this reply, no
 * boot server discovery", and PXE_MENU_PROMPT (10) with timeout 0, ended by 255 as dnsmasq sends them
 * when there is no boot menu. Left out for
 * - HTTP Boot, which reads no PXE options;
 * - UEFI PXE (EDK2) on port 67: an offer without PXE options is a "BINL" proxy offer to EDK2
 *   (PxeBcDhcp4.c), which then asks us on 4011 with its new address, as dnsmasq arranges for arch >= 6.
 */
function pxeVendorOptions(client: BootClient, via: ProxyPort): Uint8Array | undefined {
  if (client.firmware === 'uefi-http') return undefined;
  if (client.firmware === 'uefi-pxe' && via === 'dhcp') return undefined;
  return Uint8Array.of(6, 1, 0x08, 10, 4, 0, 0x50, 0x58, 0x45, 255); // 10: timeout 0, "PXE"
}
