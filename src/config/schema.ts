// One config schema, validated once, frozen (STYLE.md §8). TypeBox gives the JSON schema, defaults and
// the static type from one declaration.
import { Type, type Static } from '@sinclair/typebox';

const Ipv4 = Type.String({ format: 'ipv4', description: 'dotted-quad IPv4 address' });

export const DhcpSection = Type.Object({
  enabled: Type.Boolean({ default: false }),
  /** Interface name, for logs and for the lab; the server binds to serverAddress. */
  interface: Type.Optional(Type.String()),
  /** Our address on the boot network: option 54 and siaddr. */
  serverAddress: Ipv4,
  /** Subnet served, CIDR notation: 10.213.0.0/24. */
  subnet: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d{1,2}$' }),
  pool: Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false }),
  router: Type.Optional(Ipv4),
  dns: Type.Array(Ipv4, { default: [] }),
  domain: Type.Optional(Type.String()),
  /** Seconds (option 51). */
  leaseTime: Type.Integer({ minimum: 60, default: 3600 }),
  /** Seconds an OFFER holds its address for the client's REQUEST. */
  offerTimeout: Type.Integer({ minimum: 1, default: 30 }),
  /** UDP ports; tests move them off the privileged ones. */
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 67 }),
  clientPort: Type.Integer({ minimum: 1, maximum: 65535, default: 68 }),
}, { additionalProperties: false });

export const HttpSection = Type.Object({
  enabled: Type.Boolean({ default: true }),
  host: Type.String({ default: '0.0.0.0' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 80 }),
  /** Base URL machines use to reach us (no trailing slash); derived from dhcp.serverAddress when absent. */
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$' })),
}, { additionalProperties: false });

export const ImagesSection = Type.Object({
  /** Where built images live (outside git): one folder per image with manifest.json. */
  dir: Type.Optional(Type.String()),
  /** Image booted by unknown machines. */
  enlist: Type.String({ default: 'micro' }),
}, { additionalProperties: false });

export const LogSection = Type.Object({
  level: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
}, { additionalProperties: false });

export const ConfigSchema = Type.Object({
  dataDir: Type.String({ default: '/var/lib/netboot' }),
  dhcp: Type.Optional(DhcpSection),
  http: HttpSection,
  images: ImagesSection,
  log: LogSection,
}, { additionalProperties: false });

export type Config = Static<typeof ConfigSchema>;
export type DhcpConfig = Static<typeof DhcpSection>;
export type HttpConfig = Static<typeof HttpSection>;
