// Public surface of src/dhcp (STYLE.md §6): the server for main.ts, the policy and the codec for
// tests and tools. Other areas import from here only.
export { startDhcpServer, type DhcpServer, type DhcpServerDeps } from './server.js';
export { startProxyDhcpServer, type ProxyDhcpServer, type ProxyDhcpServerDeps } from './proxy-server.js';
export {
  heardAddress, proxyRespond, screenProxy,
  type ProxyContext, type ProxyIgnoreCode, type ProxyInput, type ProxyOutcome, type ProxyPort,
} from './proxy.js';
export type { Lease, LeaseState, LeaseStore } from './lease-store.js';
export { classifyClient, classifyFirmware, clientMac, machineUuid } from './classify.js';
export {
  bootReply, decideBoot, defaultLoaders, tftpLoaders, type BootDecision, type BootReply, type LoaderChoice,
} from './boot-file.js';
export { LeasePool, type AddressStatus, type OfferPlan } from './leases.js';
export { respond, type IgnoreCode, type Outcome, type RespondContext, type RespondInput } from './respond.js';
export { replyDestination, type Destination } from './reply.js';
export {
  decodeDhcp, DecodeError, encodeDhcp, EncodeError, MessageType, renderPacket,
  type DhcpOptions, type DhcpPacket,
} from './codec/index.js';
