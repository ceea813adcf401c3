// The options we know by name: an explicit table (STYLE.md §2), code -> name + kind. Anything not in
// the table is still decoded, as raw octets in `options.unknown`, and re-encoded unchanged.
// Options 0 (pad), 255 (end) and 52 (overload) are framing, handled by decode.ts / encode.ts.
import type { KindValues, OptionKind } from './option-values.js';

interface OptionSpec {
  readonly name: string;
  readonly kind: OptionKind;
}

export const optionTable = {
  1: { name: 'subnetMask', kind: 'ip' }, // RFC 2132 §3.3
  3: { name: 'routers', kind: 'ips' }, // RFC 2132 §3.5
  6: { name: 'dnsServers', kind: 'ips' }, // RFC 2132 §3.8
  12: { name: 'hostName', kind: 'string' }, // RFC 2132 §3.14
  15: { name: 'domainName', kind: 'string' }, // RFC 2132 §3.17
  17: { name: 'rootPath', kind: 'string' }, // RFC 2132 §3.19
  26: { name: 'interfaceMtu', kind: 'u16' }, // RFC 2132 §5.1
  28: { name: 'broadcastAddress', kind: 'ip' }, // RFC 2132 §5.3
  42: { name: 'ntpServers', kind: 'ips' }, // RFC 2132 §8.3
  43: { name: 'vendorSpecific', kind: 'encapsulated' }, // RFC 2132 §8.4
  50: { name: 'requestedAddress', kind: 'ip' }, // RFC 2132 §9.1
  51: { name: 'leaseTime', kind: 'u32' }, // RFC 2132 §9.2, seconds
  53: { name: 'messageType', kind: 'u8' }, // RFC 2132 §9.6
  54: { name: 'serverId', kind: 'ip' }, // RFC 2132 §9.7
  55: { name: 'parameterRequestList', kind: 'u8-list' }, // RFC 2132 §9.8
  56: { name: 'message', kind: 'string' }, // RFC 2132 §9.9
  57: { name: 'maxMessageSize', kind: 'u16' }, // RFC 2132 §9.10
  58: { name: 'renewalTime', kind: 'u32' }, // RFC 2132 §9.11, T1
  59: { name: 'rebindingTime', kind: 'u32' }, // RFC 2132 §9.12, T2
  60: { name: 'vendorClassId', kind: 'string' }, // RFC 2132 §9.13; PXEClient:Arch:... (FACTS.md)
  61: { name: 'clientId', kind: 'client-id' }, // RFC 2132 §9.14
  66: { name: 'tftpServerName', kind: 'string' }, // RFC 2132 §9.4
  67: { name: 'bootFileName', kind: 'string' }, // RFC 2132 §9.5
  77: { name: 'userClass', kind: 'user-class' }, // RFC 3004
  81: { name: 'clientFqdn', kind: 'bytes' }, // RFC 4702
  82: { name: 'relayAgentInformation', kind: 'relay-agent' }, // RFC 3046
  93: { name: 'clientArchitectures', kind: 'arch-list' }, // RFC 4578 §2.1
  94: { name: 'clientNetworkInterface', kind: 'bytes' }, // RFC 4578 §2.2 (type, major, minor)
  97: { name: 'clientMachineId', kind: 'uuid' }, // RFC 4578 §2.3
  119: { name: 'domainSearch', kind: 'bytes' }, // RFC 3397 (compressed DNS names)
  121: { name: 'classlessStaticRoutes', kind: 'bytes' }, // RFC 3442
  175: { name: 'ipxeEncapsulated', kind: 'encapsulated' }, // iPXE: 175.x settings (ipxe.org/cfg)
} as const satisfies Record<number, OptionSpec>;

type OptionTable = typeof optionTable;
export type OptionCode = keyof OptionTable;
export type OptionName = OptionTable[OptionCode]['name'];

/** Decoded options by name, typed by kind; `unknown` holds options the table does not list. */
export type DhcpOptions = {
  readonly [C in OptionCode as OptionTable[C]['name']]?: KindValues[OptionTable[C]['kind']];
} & {
  readonly unknown?: ReadonlyMap<number, Uint8Array>;
};

export interface OptionEntry {
  readonly code: number;
  readonly name: OptionName;
  readonly kind: OptionKind;
}

const entries: readonly OptionEntry[] = Object.entries(optionTable).map(([code, spec]) => ({
  code: Number(code),
  name: spec.name,
  kind: spec.kind,
}));

export const optionByCode: ReadonlyMap<number, OptionEntry> = new Map(entries.map((e) => [e.code, e]));
export const optionByName: ReadonlyMap<string, OptionEntry> = new Map(entries.map((e) => [e.name, e]));

/** Framing codes (RFC 2132 §3.1, §3.2, §9.3) that never appear as values. */
export const OPTION_PAD = 0;
export const OPTION_END = 255;
export const OPTION_OVERLOAD = 52;
