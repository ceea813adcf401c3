// Placement by relay agent information (option 82, RFC 3046): which segment a relayed client leases
// from, and which zone and resource pool the machine joins. Pure.
import { Buffer } from 'node:buffer';
import type { PlacementRuleConfig } from '../config/schema.js';
import { ZERO_ADDRESS, type DhcpPacket } from './codec/index.js';

/** What a relay told us about where a client is plugged in. */
export interface RelayInfo {
  readonly giaddr?: string;
  /** Sub-option 1 (circuit id) and 2 (remote id) as text: printable ASCII, else hex aa:bb:... */
  readonly circuitId?: string;
  readonly remoteId?: string;
}

/** Where relay information is kept (src/store), per MAC, with the placement a rule gave. */
export interface RelaySink {
  record(mac: string, info: RelayInfo, placement: { readonly zone?: string; readonly pool?: string }): void;
}

export function relayInfo(request: DhcpPacket): RelayInfo | undefined {
  const agent = request.options.relayAgentInformation;
  const giaddr = request.giaddr === ZERO_ADDRESS ? undefined : request.giaddr;
  if (!agent && !giaddr) return undefined;
  return {
    ...(giaddr ? { giaddr } : {}),
    ...(agent?.circuitId ? { circuitId: subOptionText(agent.circuitId) } : {}),
    ...(agent?.remoteId ? { remoteId: subOptionText(agent.remoteId) } : {}),
  };
}

/**
 * Circuit and remote ids are opaque octets (RFC 3046 §2.1); switches mostly send text such as
 * `Gi1/0/7` or a hostname, sometimes binary (a port index, a MAC). Text when every octet is printable
 * ASCII, so that rules can be written as the switch's documentation prints them.
 */
export function subOptionText(bytes: Uint8Array): string {
  const printable = bytes.length > 0 && bytes.every((b) => b >= 0x20 && b < 0x7f);
  return printable
    ? Buffer.from(bytes).toString('latin1')
    : [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The first rule whose every given field equals the relay's; undefined when none (or not relayed). */
export function matchPlacement(
  rules: readonly PlacementRuleConfig[], info: RelayInfo | undefined,
): PlacementRuleConfig | undefined {
  if (!info) return undefined;
  return rules.find(({ match }) => (match.circuitId === undefined || match.circuitId === info.circuitId)
    && (match.remoteId === undefined || match.remoteId === info.remoteId)
    && (match.giaddr === undefined || match.giaddr === info.giaddr));
}
