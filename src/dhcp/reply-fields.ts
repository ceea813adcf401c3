// What every reply copies from its request, whoever builds it (full mode's reply.ts, proxy.ts). Pure.
import { BootOp, type DhcpOptions, type DhcpPacket } from './codec/index.js';

/** The header fields a reply copies from its request (RFC 2131 §4.3.1 Table 3). */
export function replyHeader(request: DhcpPacket): Omit<DhcpPacket, 'yiaddr' | 'siaddr' | 'ciaddr' | 'file' | 'options'> {
  return {
    op: BootOp.reply,
    htype: request.htype,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    giaddr: request.giaddr,
    chaddr: request.chaddr,
    sname: '',
  };
}

/** Options echoed from the request: 61 (RFC 6842 §3: MUST, unaltered) and 82 (RFC 3046 §2.2). */
export function echoedOptions(request: DhcpPacket): DhcpOptions {
  const { clientId, relayAgentInformation } = request.options;
  return {
    ...(clientId ? { clientId } : {}),
    ...(relayAgentInformation ? { relayAgentInformation } : {}),
  };
}
