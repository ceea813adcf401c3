// The served IPv4 subnet and address pool, parsed once from DhcpConfig. Addresses are unsigned 32-bit
// integers here so that pool arithmetic is plain integer arithmetic.
import type { DhcpConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { formatIpv4, parseIpv4 } from './codec/index.js';

export interface Subnet {
  readonly network: number;
  readonly prefixLength: number;
  readonly mask: number;
  /** The subnet's directed broadcast address. */
  readonly broadcast: number;
}

export interface ServedNetwork {
  readonly subnet: Subnet;
  readonly serverAddress: number;
  readonly poolStart: number;
  readonly poolEnd: number;
  /** In the pool range but never handed out: our own address, the router, network and broadcast. */
  readonly reserved: ReadonlySet<number>;
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

/** Validates the DHCP section beyond what its schema can say; throws ConfigError saying what to fix. */
export function servedNetwork(config: DhcpConfig): ServedNetwork {
  const subnet = parseSubnet(config.subnet);
  if (!subnet) throw new ConfigError(`dhcp.subnet "${config.subnet}" is not an IPv4 CIDR with a /1../30 prefix`);
  const address = (name: string, text: string): number => {
    const value = parseIpv4(text);
    if (value === undefined) throw new ConfigError(`dhcp.${name} "${text}" is not an IPv4 address`);
    if (!inSubnet(subnet, value)) throw new ConfigError(`dhcp.${name} ${text} is outside dhcp.subnet ${config.subnet}`);
    return value;
  };
  const serverAddress = address('serverAddress', config.serverAddress);
  const poolStart = address('pool.start', config.pool.start);
  const poolEnd = address('pool.end', config.pool.end);
  if (poolStart > poolEnd) {
    throw new ConfigError(`dhcp.pool.start ${config.pool.start} is after dhcp.pool.end ${config.pool.end}`);
  }
  const reserved = new Set([subnet.network, subnet.broadcast, serverAddress]);
  if (config.router !== undefined) reserved.add(address('router', config.router));
  return { subnet, serverAddress, poolStart, poolEnd, reserved };
}

export function inPool(network: ServedNetwork, address: number): boolean {
  return address >= network.poolStart && address <= network.poolEnd && !network.reserved.has(address);
}
