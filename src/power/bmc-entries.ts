// Registry entries (registry.ts) of the drivers that talk to a power controller over the network:
// `ipmi` (ipmitool), `redfish` (HTTPS) and `webhook` (the operator's URLs).
import { Type } from '@sinclair/typebox';
import { ClosedRecord, SafeText } from '../schemas.js';
import type { PowerDriverEntry } from './entry.js';
import { IpmiPowerDriver, ipmiPrivileges } from './ipmi.js';
import { RedfishPowerDriver } from './redfish.js';
import { WebhookPowerDriver } from './webhook.js';

/** A host name, IPv4 or IPv6 address; never starting with '-' (ipmitool would read it as an option). */
const Host = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.:%-]{0,252}$', maxLength: 253, description: 'BMC host name or address' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Url = Type.String({
  // No user:password@ in URLs: credentials belong in headers, which are secrets; a URL is shown.
  pattern: '^https?://[^/@\\s?#]+(/[^\\s]*)?$', maxLength: 2048, description: 'http:// or https:// URL without credentials',
});
const Pem = Type.String({ pattern: '-----BEGIN CERTIFICATE-----', maxLength: 64 * 1024, description: 'PEM of the CA certificate to trust' });
const Regex = SafeText(512, { minLength: 1, description: 'JavaScript regular expression, matched case-insensitively' });

const ipmiSchema = Type.Object({
  type: Type.Literal('ipmi'),
  address: Host,
  port: Type.Optional(Port),
  // IPMI 2.0 §22.27 (Set User Name): 16 bytes; §22.29 (Set User Password): 20 bytes for IPMI 2.0.
  user: SafeText(16, { minLength: 1 }),
  password: SafeText(20),
  cipherSuite: Type.Optional(Type.Integer({ minimum: 0, maximum: 17, description: 'RMCP+ cipher suite id (3 when absent)' })),
  privilege: Type.Optional(Type.Union(ipmiPrivileges.map((p) => Type.Literal(p)), { description: 'session privilege (operator when absent)' })),
}, { additionalProperties: false, description: 'IPMI 2.0 over LAN (lanplus) through ipmitool' });

const redfishSchema = Type.Object({
  type: Type.Literal('redfish'),
  address: Type.String({ pattern: '^(https?://)?[A-Za-z0-9][A-Za-z0-9.:%\\[\\]-]{0,252}/?$', maxLength: 270, description: 'BMC host[:port] or https:// URL' }),
  user: SafeText(256, { minLength: 1 }),
  password: SafeText(1024),
  systemId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'member of /redfish/v1/Systems (absent: the only one)' })),
  verifyTls: Type.Optional(Type.Boolean({ description: 'verify the BMC certificate against the system CAs (default false)' })),
  caCert: Type.Optional(Pem),
}, { additionalProperties: false, description: 'DMTF Redfish over HTTPS, Basic authentication' });

const webhookSchema = Type.Object({
  type: Type.Literal('webhook'),
  onUrl: Url,
  offUrl: Url,
  statusUrl: Url,
  onRegex: Type.Optional(Regex),
  offRegex: Type.Optional(Regex),
  headers: Type.Optional(ClosedRecord('^[A-Za-z0-9!#$%&\'*+.^_`|~-]{1,64}$', SafeText(4096), { maxProperties: 16 })),
  verifyTls: Type.Optional(Type.Boolean({ description: 'verify https certificates (default true)' })),
  caCert: Type.Optional(Pem),
}, { additionalProperties: false, description: 'POST to the on/off URL, GET the status URL and match it (MAAS webhook)' });

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
function hostAndPort(text: string): { address: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { address: bracketed[1]!, ...(bracketed[2] ? { port: Number(bracketed[2]) } : {}) };
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort) return { address: hostPort[1]!, port: Number(hostPort[2]) };
  return { address: text };
}

/** The host of a Redfish address (`host`, `host:port`, `[v6]:port` or an https:// URL), without brackets. */
function redfishHost(address: string): string | undefined {
  try {
    return new URL(/^https?:\/\//.test(address) ? address : `https://${address}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

const ipmi: PowerDriverEntry<typeof ipmiSchema> = {
  type: 'ipmi', schema: ipmiSchema, secretFields: ['password'],
  cliSyntax: 'ipmi[:<address>[:<port>]] --user U (--password-file F | $NETBOOT_BMC_PASSWORD | --password P)',
  parseCli: (text) => {
    const match = /^ipmi(?::(.+))?$/.exec(text);
    if (!match) return undefined;
    return { type: 'ipmi', ...(match[1] ? hostAndPort(match[1]) : {}) };
  },
  bmcAddress: (settings) => settings.address,
  create: (settings, options) => new IpmiPowerDriver(settings, { timeoutMs: options.timeoutMs, log: options.log }),
};

const redfish: PowerDriverEntry<typeof redfishSchema> = {
  type: 'redfish', schema: redfishSchema, secretFields: ['password'],
  cliSyntax: 'redfish[:<host[:port] or https URL>] --user U (--password-file F | $NETBOOT_BMC_PASSWORD | --password P)',
  parseCli: (text) => {
    const match = /^redfish(?::(.+))?$/.exec(text);
    if (!match) return undefined;
    return { type: 'redfish', ...(match[1] ? { address: match[1] } : {}) };
  },
  bmcAddress: (settings) => redfishHost(settings.address),
  warnings: (settings) => (settings.verifyTls !== true && settings.caCert === undefined
    ? [`the Redfish BMC's TLS certificate is not verified (verifyTls off, no caCert): a host that can intercept the BMC network `
      + 'could pose as the BMC and read its password; give the BMC\'s CA as caCert (--ca-cert) or set verifyTls']
    : []),
  create: (settings, options) => new RedfishPowerDriver(settings, { timeoutMs: options.timeoutMs, log: options.log }),
};

const webhook: PowerDriverEntry<typeof webhookSchema> = {
  type: 'webhook', schema: webhookSchema, secretFields: [], secretMaps: ['headers'],
  cliSyntax: 'webhook --on-url U --off-url U --status-url U [--on-regex R] [--off-regex R] [--header-file F]',
  parseCli: (text) => (text === 'webhook' ? { type: 'webhook' } : undefined),
  warnings: (settings) => (settings.verifyTls === false
    ? ['the webhook\'s TLS certificates are not verified (verifyTls false): its header values can be read by whoever intercepts them']
    : []),
  create: (settings, options) => new WebhookPowerDriver(settings, { timeoutMs: options.timeoutMs, log: options.log }),
};

export const networkPowerEntries = { ipmi, redfish, webhook };
