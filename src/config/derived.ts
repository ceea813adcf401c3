import type { Config } from './schema.js';
import { ConfigError } from '../errors.js';

/** The base URL machines use to reach the HTTP boot listener (no trailing slash). */
export function publicUrl(config: Config): string {
  if (config.http.publicUrl) return config.http.publicUrl;
  const host = config.dhcp?.serverAddress;
  if (!host) throw new ConfigError('http.publicUrl is required when dhcp.serverAddress is not set');
  // UEFI HTTP Boot sends a Host header without the port (FACTS.md); keep port 80 implicit.
  return config.http.port === 80 ? `http://${host}` : `http://${host}:${config.http.port}`;
}

/** Where TFTP listens: its own host, else the DHCP server address, else every address. */
export function tftpHost(config: Config): string {
  if (config.tftp.host) return config.tftp.host;
  return config.dhcp?.enabled ? config.dhcp.serverAddress : '0.0.0.0';
}

/**
 * Where IPv6 Router Advertisements go (src/router-advert.ts): dhcp.interface when ipv6RouterAdvert
 * is on, or, in full DHCP mode only, when it is auto; else undefined.
 */
export function routerAdvertInterface(config: Config, warn: (message: string) => void = () => {}): string | undefined {
  const { enabled } = config.ipv6RouterAdvert;
  const fullDhcp = config.dhcp?.enabled === true && config.dhcp.mode === 'full';
  if (enabled === false || (enabled === 'auto' && !fullDhcp)) return undefined;
  const name = config.dhcp?.interface;
  if (name) return name;
  if (enabled === true) throw new ConfigError('ipv6RouterAdvert.enabled is true but dhcp.interface is not set: RAs go out on that interface only');
  warn('no IPv6 router advertisements: dhcp.interface is not set (iPXE waits ~14 s for IPv6 router discovery on every boot)');
  return undefined;
}
