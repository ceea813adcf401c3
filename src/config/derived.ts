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
