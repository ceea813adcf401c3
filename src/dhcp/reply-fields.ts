// What every reply copies from its request, whoever builds it (full mode's reply.ts, proxy.ts). Pure.
//
// Replies are built as single object literals and options by assignment, not with object spreads per
// packet: on this V8 (Node 20) spreading a small object into a literal measured 1-10 µs, more than
// decoding and encoding the whole packet, and every OFFER and ACK built several. (reply.ts spreads
// only when it builds a segment's cached options; proxy.ts still spreads the boot options, off the
// full-mode path the benchmark measures.)
import { BootOp, type DhcpOptions, type DhcpPacket } from './codec/index.js';

export type MutableOptions = { -readonly [K in keyof DhcpOptions]: DhcpOptions[K] };

/** What a reply sets itself; the rest comes from the request. */
export interface ReplyFields {
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly file: string;
  readonly options: DhcpOptions;
  /** Defaults to the request's (its broadcast bit, RFC 2131 §4.1). */
  readonly flags?: number;
}

/** A reply to `request`: the header fields RFC 2131 §4.3.1 Table 3 copies from it, plus `fields`. */
export function replyTo(request: DhcpPacket, fields: ReplyFields): DhcpPacket {
  return {
    op: BootOp.reply,
    htype: request.htype,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: fields.flags ?? request.flags,
    ciaddr: fields.ciaddr,
    yiaddr: fields.yiaddr,
    siaddr: fields.siaddr,
    giaddr: request.giaddr,
    chaddr: request.chaddr,
    sname: '',
    file: fields.file,
    options: fields.options,
  };
}

/** Adds the options echoed from the request: 61 (RFC 6842 §3: MUST, unaltered) and 82 (RFC 3046 §2.2). */
export function echoOptions(request: DhcpPacket, options: MutableOptions): void {
  const { clientId, relayAgentInformation } = request.options;
  if (clientId) options.clientId = clientId;
  if (relayAgentInformation) options.relayAgentInformation = relayAgentInformation;
}
