// The DHCPv4 message as a value (RFC 2131 §2, Figure 1; BOOTP fields from RFC 951 §3).
import type { DhcpOptions } from './option-table.js';

/** RFC 951 §3 `op`: 1 = BOOTREQUEST (client to server), 2 = BOOTREPLY. */
export const BootOp = { request: 1, reply: 2 } as const;
export type BootOp = (typeof BootOp)[keyof typeof BootOp];

/** RFC 2132 §9.6 option 53 values. Other values (RFC 3203, RFC 4388 ...) decode as plain numbers. */
export const MessageType = {
  discover: 1, offer: 2, request: 3, decline: 4, ack: 5, nak: 6, release: 7, inform: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const messageTypeNames = new Map<number, string>(
  Object.entries(MessageType).map(([name, value]) => [value, `DHCP${name.toUpperCase()}`]),
);

/** `DHCPDISCOVER` for 1 and so on; `type 42` for values RFC 2132 does not define. */
export function messageTypeName(value: number): string {
  return messageTypeNames.get(value) ?? `type ${value}`;
}

/** RFC 2131 §2 Figure 2: the leftmost bit of `flags` asks for broadcast replies. */
export const BROADCAST_FLAG = 0x8000;

/** RFC 1700 hardware type 1, Ethernet (the only one whose chaddr is a MAC we can key leases on). */
export const HTYPE_ETHERNET = 1;

/** RFC 2131 §3 / RFC 2132 §2: the first four octets of the options field. */
export const MAGIC_COOKIE = 0x63825363;

/** Byte offsets of the fixed BOOTP header (RFC 2131 §2, Figure 1). */
export const Layout = {
  op: 0, htype: 1, hlen: 2, hops: 3, xid: 4, secs: 8, flags: 10,
  ciaddr: 12, yiaddr: 16, siaddr: 20, giaddr: 24,
  chaddr: 28, chaddrLength: 16,
  sname: 44, snameLength: 64,
  file: 108, fileLength: 128,
  magicCookie: 236,
  options: 240,
} as const;

/**
 * RFC 1542 §2.1: "The IP Total Length and UDP Length must be large enough to contain the minimal
 * BOOTP header of 300 octets (in the UDP data field)". RFC 951's 236-octet header plus its 64-octet
 * vendor area; some relays and clients drop shorter messages (FACTS.md).
 */
export const MIN_BOOTP_MESSAGE_LENGTH = 300;

export interface DhcpPacket {
  readonly op: BootOp;
  /** Hardware address type; 1 = Ethernet. */
  readonly htype: number;
  /** Relay agents increment this (RFC 1542 §4.1.1). */
  readonly hops: number;
  /** Transaction id chosen by the client; replies copy it. */
  readonly xid: number;
  readonly secs: number;
  /** Bit 15 is BROADCAST_FLAG; the rest MUST be zero (RFC 2131 §2). */
  readonly flags: number;
  readonly ciaddr: string;
  readonly yiaddr: string;
  /** "next server": where a loader is fetched from with TFTP (FACTS.md). */
  readonly siaddr: string;
  readonly giaddr: string;
  /** The hardware address: `hlen` octets of the 16-octet chaddr field (hlen is its length). */
  readonly chaddr: Uint8Array;
  /** Server host name, NUL-terminated on the wire; '' when the field carried options (option 52). */
  readonly sname: string;
  /** Boot file name, at most 127 characters + NUL; '' when the field carried options (option 52). */
  readonly file: string;
  readonly options: DhcpOptions;
}
