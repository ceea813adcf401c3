// The served IPv4 segments, parsed and checked once from DhcpConfig: the local segment (the subnet
// serverAddress is on) and the segments behind relays. Addresses are unsigned 32-bit integers here so
// that pool arithmetic is plain integer arithmetic.
import type { DhcpConfig, RelaySubnetConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { formatIpv4, parseIpv4 } from './codec/index.js';

export interface Subnet {
  readonly network: number;
  readonly prefixLength: number;
  readonly mask: number;
  /** The subnet's directed broadcast address. */
  readonly broadcast: number;
}

/** What a segment hands out besides the address (RFC 2132 options). */
export interface SegmentOptions {
  readonly router?: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  readonly ntp: readonly string[];
  readonly mtu?: number;
  readonly leaseTime: number;
}

export interface Segment {
  /** The subnet as configured (CIDR text): a segment's name in logs and placement rules. */
  readonly name: string;
  readonly subnet: Subnet;
  /** False for the local segment, true for one reached through relays (giaddr). */
  readonly relayed: boolean;
  readonly poolStart: number;
  readonly poolEnd: number;
  /** In the pool range but never handed out: our own address, the router, network and broadcast. */
  readonly excluded: ReadonlySet<number>;
  readonly options: SegmentOptions;
}

export interface ServedNetwork {
  readonly serverAddress: number;
  readonly local: Segment;
  readonly segments: readonly Segment[];
}

export function parseSubnet(cidr: string): Subnet | undefined {
  const [address, prefixText, ...rest] = cidr.split('/');
  const base = address === undefined ? undefined : parseIpv4(address);
  const prefixLength = Number(prefixText);
  if (base === undefined || rest.length > 0 || !Number.isInteger(prefixLength)) return undefined;
  if (prefixLength < 1 || prefixLength > 30) return undefined;
  const mask = (0xffffffff << (32 - prefixLength)) >>> 0;
  const network = (base & mask) >>> 0;
  return { network, prefixLength, mask, broadcast: (network | ~mask) >>> 0 };
}

export function inSubnet(subnet: Subnet, address: number): boolean {
  return ((address & subnet.mask) >>> 0) === subnet.network;
}

export function subnetMaskText(subnet: Subnet): string {
  return formatIpv4(subnet.mask);
}

/** The segment whose subnet contains `address`, if any. */
export function segmentOf(network: ServedNetwork, address: number): Segment | undefined {
  return network.segments.find((segment) => inSubnet(segment.subnet, address));
}

export function inPool(segment: Segment, address: number): boolean {
  return address >= segment.poolStart && address <= segment.poolEnd && !segment.excluded.has(address);
}

/** Validates the DHCP section beyond what its schema can say; throws ConfigError saying what to fix. */
export function servedNetwork(config: DhcpConfig): ServedNetwork {
  if (config.subnet === undefined || config.pool === undefined) {
    throw new ConfigError('dhcp.subnet and dhcp.pool are required in full mode (dhcp.mode: full)');
  }
  const serverAddress = parseIpv4(config.serverAddress)!;
  const local = parseSegment('dhcp', { ...config, subnet: config.subnet, pool: config.pool }, false);
  if (!inSubnet(local.subnet, serverAddress)) {
    throw new ConfigError(`dhcp.serverAddress ${config.serverAddress} is outside dhcp.subnet ${config.subnet}`);
  }
  const segments = [local];
  config.relaySubnets.forEach((relayed, index) => {
    const segment = parseSegment(`dhcp.relaySubnets[${index}]`, relayed, true);
    const overlapping = segments.find((other) => overlaps(other.subnet, segment.subnet));
    if (overlapping) throw new ConfigError(`dhcp.relaySubnets[${index}] ${segment.name} overlaps ${overlapping.name}`);
    segments.push(segment);
  });
  // Our own address is never handed out, on whichever segment holds it.
  const withServer = segments.map((segment) => inSubnet(segment.subnet, serverAddress)
    ? { ...segment, excluded: new Set([...segment.excluded, serverAddress]) }
    : segment);
  return { serverAddress, local: withServer[0]!, segments: withServer };
}

function parseSegment(path: string, config: RelaySubnetConfig, relayed: boolean): Segment {
  const subnet = parseSubnet(config.subnet);
  if (!subnet) throw new ConfigError(`${path}.subnet "${config.subnet}" is not an IPv4 CIDR with a /1../30 prefix`);
  const address = (name: string, text: string): number => {
    const value = parseIpv4(text);
    if (value === undefined) throw new ConfigError(`${path}.${name} "${text}" is not an IPv4 address`);
    if (!inSubnet(subnet, value)) throw new ConfigError(`${path}.${name} ${text} is outside ${path}.subnet ${config.subnet}`);
    return value;
  };
  const poolStart = address('pool.start', config.pool.start);
  const poolEnd = address('pool.end', config.pool.end);
  if (poolStart > poolEnd) {
    throw new ConfigError(`${path}.pool.start ${config.pool.start} is after ${path}.pool.end ${config.pool.end}`);
  }
  const excluded = new Set([subnet.network, subnet.broadcast]);
  if (config.router !== undefined) excluded.add(address('router', config.router));
  const options: SegmentOptions = {
    dns: config.dns, ntp: config.ntp, leaseTime: config.leaseTime,
    ...(config.router === undefined ? {} : { router: config.router }),
    ...(config.domain === undefined ? {} : { domain: config.domain }),
    ...(config.mtu === undefined ? {} : { mtu: config.mtu }),
  };
  return { name: config.subnet, subnet, relayed, poolStart, poolEnd, excluded, options };
}

function overlaps(a: Subnet, b: Subnet): boolean {
  return inSubnet(a, b.network) || inSubnet(b, a.network);
}
