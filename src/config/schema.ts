// One config schema, validated once, frozen (STYLE.md §8). TypeBox gives the JSON schema, defaults and
// the static type from one declaration.
import { Type, type Static } from '@sinclair/typebox';
import { HostnameAnyCase, Mac } from '../schemas.js';

const Ipv4 = Type.String({ format: 'ipv4', description: 'dotted-quad IPv4 address' });
const HttpUrl = Type.String({ pattern: '^https?://[^\\s\'"]+$', description: 'an http:// or https:// URL' });

/** DHCP options a subnet hands out, besides its address (RFC 2132). */
const subnetOptions = {
  router: Type.Optional(Ipv4),
  dns: Type.Array(Ipv4, { default: [] }),
  domain: Type.Optional(Type.String()),
  /** Option 42. */
  ntp: Type.Array(Ipv4, { default: [] }),
  /** Option 26, interface MTU. */
  mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65535 })),
  /** Seconds (option 51). */
  leaseTime: Type.Integer({ minimum: 60, default: 3600 }),
};

const Cidr = Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d{1,2}$', description: 'IPv4 CIDR, e.g. 10.213.0.0/24' });
const AddressRange = Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false });

/** A segment behind a DHCP relay (giaddr inside `subnet`). */
export const RelaySubnet = Type.Object({
  subnet: Cidr,
  pool: AddressRange,
  ...subnetOptions,
}, { additionalProperties: false });

/** A fixed address for one machine; the subnet is the one that contains `ip`. */
export const Reservation = Type.Object({
  mac: Mac,
  ip: Ipv4,
  hostname: Type.Optional(HostnameAnyCase),
}, { additionalProperties: false });

/**
 * Where a relayed machine belongs, by its relay agent information (option 82, RFC 3046). Every field
 * of `match` that is given must equal the request's sub-option (text, or hex as aa:bb:.. for binary
 * values); the first matching rule wins.
 */
export const PlacementRule = Type.Object({
  match: Type.Object({
    circuitId: Type.Optional(Type.String()),
    remoteId: Type.Optional(Type.String()),
    giaddr: Type.Optional(Ipv4),
  }, { additionalProperties: false, minProperties: 1 }),
  /** Lease from this configured subnet (its CIDR) instead of the giaddr's. */
  subnet: Type.Optional(Cidr),
  zone: Type.Optional(Type.String({ minLength: 1 })),
  pool: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false });

export const DhcpSection = Type.Object({
  enabled: Type.Boolean({ default: false }),
  /**
   * full: addresses and boot information. proxy: beside a site's DHCP server, boot information only,
   * to PXE clients only (PXE spec 2.1 proxyDHCP), on port 67 and 4011.
   */
  mode: Type.Union([Type.Literal('full'), Type.Literal('proxy')], { default: 'full' }),
  /** Interface name, for logs and for the lab; the server binds to serverAddress. */
  interface: Type.Optional(Type.String()),
  /** Our address on the boot network: option 54 and siaddr. */
  serverAddress: Ipv4,
  /** The local segment (full mode): the subnet serverAddress is on, and its pool and options. */
  subnet: Type.Optional(Cidr),
  pool: Type.Optional(AddressRange),
  ...subnetOptions,
  /** Segments behind relays, chosen by giaddr (or by a placement rule). */
  relaySubnets: Type.Array(RelaySubnet, { default: [] }),
  reservations: Type.Array(Reservation, { default: [] }),
  placement: Type.Array(PlacementRule, { default: [] }),
  /**
   * NAK a REQUEST for an address that is wrong for the client's subnet (RFC 2131 §4.3.2). Off: stay
   * silent, for networks where another server may own the address.
   */
  authoritative: Type.Boolean({ default: true }),
  /** Seconds an OFFER holds its address for the client's REQUEST. */
  offerTimeout: Type.Integer({ minimum: 1, default: 30 }),
  /** UDP ports; tests move them off the privileged ones. */
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 67 }),
  clientPort: Type.Integer({ minimum: 1, maximum: 65535, default: 68 }),
  /** PXE boot server port of proxy mode (PXE spec 2.1: the client's second request goes here). */
  proxyPort: Type.Integer({ minimum: 1, maximum: 65535, default: 4011 }),
}, { additionalProperties: false });

/** Bounds on how long one client may take, for both HTTP listeners (src/http-listen.ts). */
const listenerLimits = {
  /** Milliseconds to receive a whole request, headers and body (results are at most 64 MB). */
  requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 120_000 }),
  /** Milliseconds a connection may pass with no traffic either way before it is closed. */
  connectionTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
};

export const HttpSection = Type.Object({
  enabled: Type.Boolean({ default: true }),
  host: Type.String({ default: '0.0.0.0' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 80 }),
  /** Base URL machines use to reach us (no trailing slash); derived from dhcp.serverAddress when absent. */
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$' })),
  ...listenerLimits,
  /**
   * Connections held at once; more are closed as they arrive. Bounds the descriptors one host on the
   * boot network can take from image files, SQLite and TFTP (security probe F6).
   */
  maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1024 }),
}, { additionalProperties: false });

export const TftpSection = Type.Object({
  enabled: Type.Boolean({ default: true }),
  /** Address to bind; defaults to dhcp.serverAddress (so replies leave from the address PXE ROMs asked), else 0.0.0.0. */
  host: Type.Optional(Type.String()),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 69 }),
  /** Path MTU of the boot network: blksize is capped to mtu - 32 so no DATA packet fragments (FACTS.md). */
  mtu: Type.Integer({ minimum: 576, maximum: 65535, default: 1500 }),
  maxTransfers: Type.Integer({ minimum: 1, default: 64 }),
  maxPerClient: Type.Integer({ minimum: 1, default: 8 }),
  /** Retransmission interval unless the client negotiates RFC 2349 `timeout`. */
  timeoutMs: Type.Integer({ minimum: 50, maximum: 255000, default: 1000 }),
  /** Retransmissions of one block (or window) before a transfer is given up. */
  retries: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
  /** RFC 7440 windowsize cap (OVMF asks 4; atftp and curl can ask more). */
  maxWindow: Type.Integer({ minimum: 1, maximum: 65535, default: 64 }),
  /**
   * Worker threads that run transfers (Node's per-send cost caps one thread); absent: one per core;
   * 0: transfers run in the main thread.
   */
  workers: Type.Optional(Type.Integer({ minimum: 0, maximum: 256 })),
  /** Each worker's in-memory cache of whole files (loaders, kernels, initrds), in MiB; 0 turns it off. */
  cacheMiB: Type.Integer({ minimum: 0, maximum: 65536, default: 128 }),
}, { additionalProperties: false });

/** Loader binaries from Debian's ipxe, shim-signed and grub-efi-amd64-signed packages. */
export const LoadersSection = Type.Object({
  undionly: Type.String({ default: '/usr/lib/ipxe/undionly.kpxe' }),
  snponly: Type.String({ default: '/usr/lib/ipxe/snponly.efi' }),
  ipxeEfi: Type.String({ default: '/usr/lib/ipxe/ipxe.efi' }),
  shim: Type.String({ default: '/usr/lib/shim/shimx64.efi.signed' }),
  grub: Type.String({ default: '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed' }),
}, { additionalProperties: false });

export const BootSection = Type.Object({
  /**
   * What UEFI PXE firmware without iPXE gets over TFTP: snponly.efi (iPXE on the firmware's own NIC
   * driver), ipxe.efi (iPXE with its own drivers), or shim (the signed chain that Secure Boot accepts:
   * shim -> grub -> signed kernel).
   */
  uefiLoader: Type.Union([Type.Literal('snponly'), Type.Literal('ipxe'), Type.Literal('shim')], { default: 'snponly' }),
  /** Answer UEFI HTTP Boot clients with ipxe.efi over HTTP. */
  httpBoot: Type.Boolean({ default: true }),
  /** Appended to every kernel command line we render (e.g. `no_timer_check` for slow emulated VMs). */
  kernelArgs: Type.String({ default: '' }),
  loaders: LoadersSection,
}, { additionalProperties: false });

export const ApiSection = Type.Object({
  enabled: Type.Boolean({ default: true }),
  /** Loopback by default: the operator API must not be reachable from the boot network. */
  host: Type.String({ default: '127.0.0.1' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 5240 }),
  /**
   * Bearer token of operators; when absent one is generated into <dataDir>/api-token (mode 0600).
   * At least 24 characters: a short one (the probe's `aaaaaaaaaaaaaaaa` was accepted) can be guessed.
   */
  token: Type.Optional(Type.String({ minLength: 24, maxLength: 4096 })),
  ...listenerLimits,
}, { additionalProperties: false });

/** Seconds a machine may take in a phase before it is failed for not calling back. */
export const LifecycleSection = Type.Object({
  commissioningTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  testingTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  deployingTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  releasingTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  erasingTimeout: Type.Integer({ minimum: 10, default: 7200 }),
  rescueTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  /** A machine added by its BMC alone: from the power-on to its enlistment, else powered off with the reason. */
  enlistingTimeout: Type.Integer({ minimum: 10, default: 1800 }),
  /**
   * How `release --erase` wipes disks when the operator names no mode: quick (signatures, first and
   * last MiB), full (every block: discard-to-zero where supported, else zeros written) or secure
   * (the device's own erase where it has one, else full). MAAS's default is quick, as here.
   */
  eraseMode: Type.Union([Type.Literal('quick'), Type.Literal('full'), Type.Literal('secure')], { default: 'quick' }),
}, { additionalProperties: false });

export const ImagesSection = Type.Object({
  /** Where built images live (outside git): one folder per image with manifest.json. */
  dir: Type.Optional(Type.String()),
  /** Image booted by unknown machines. */
  enlist: Type.String({ default: 'micro' }),
  /**
   * Image of the commissioning and testing environment: micro (netboot's runner as PID 1, seconds
   * to boot) or an image with cloud-init (debian: systemd, real cloud-init fed by src/cloud-init).
   */
  commission: Type.String({ default: 'micro' }),
  /**
   * Image of the environment that installs a deployment, erases disks and runs rescue mode: needs
   * cloud-init, the installer's tools and sshd (debian).
   */
  ephemeral: Type.String({ default: 'debian' }),
  /** Disk image a deployment installs when the operator names none. */
  deploy: Type.String({ default: 'debian-disk' }),
}, { additionalProperties: false });

export const CloudInitSection = Type.Object({
  /** SSH public keys put in every environment's meta-data (public-keys), for debugging a machine. */
  sshKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /**
   * Operator user-data is checked with `cloud-init schema` when it is stored. auto: when the
   * command runs on this host (Debian: apt-get install cloud-init; it never runs on the appliance
   * host itself), else YAML only; required: refuse to start without it; off: YAML only.
   */
  schemaCheck: Type.Union([Type.Literal('auto'), Type.Literal('required'), Type.Literal('off')], { default: 'auto' }),
  command: Type.String({ minLength: 1, default: 'cloud-init' }),
  /**
   * Package sources of the deployed systems (disk and memory), for a site without the internet or
   * with its own mirror: cloud-init's apt module writes them before `packages:` installs anything.
   * The operator's user-data can still set its own `apt:` (it wins: ours is vendor-data).
   */
  apt: Type.Object({
    /** The Debian archive, e.g. http://mirror.lab/debian (the suite's sources.list is written from it). */
    mirror: Type.Optional(HttpUrl),
    /** Debian's security archive, e.g. http://mirror.lab/debian-security. */
    securityMirror: Type.Optional(HttpUrl),
    /** An HTTP proxy apt uses, e.g. http://proxy.lab:3128. */
    proxy: Type.Optional(HttpUrl),
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });

/**
 * What commissioning's BMC script (commissioning/builtin/30-bmc-config) does in-band, as MAAS's
 * 30-maas-01-bmc-config: it always reports the BMC's LAN address; with createUser it also creates (or
 * renews) an IPMI administrator the appliance then powers the machine through.
 */
export const BmcSection = Type.Object({
  /** Create the user (a fresh random password each commissioning); false: report the address only. */
  createUser: Type.Boolean({ default: true }),
  /** Its name: IPMI 2.0 user names are at most 16 bytes (§22.28); kept to shell-safe characters. */
  username: Type.String({ pattern: '^[A-Za-z0-9._-]{1,16}$', default: 'netboot' }),
}, { additionalProperties: false });

/** The machine timeline (events table). */
export const EventsSection = Type.Object({
  /**
   * Days DHCP packet events (dhcp-*) are kept; 0 keeps them for ever. They come at packet rate from
   * every client on the segment; the rest of the timeline is kept (src/store/event-retention.ts).
   */
  dhcpRetentionDays: Type.Integer({ minimum: 0, maximum: 36500, default: 30 }),
}, { additionalProperties: false });

/**
 * IPv6 Router Advertisements with router lifetime 0 on dhcp.interface (src/router-advert.ts), so that
 * iPXE does not wait ~14 s for IPv6 router discovery on every boot (README "IPv6 router advertisements").
 */
export const Ipv6RouterAdvertSection = Type.Object({
  /** auto: on in full DHCP mode (we own the segment), off in proxy mode (a site network may have routers). */
  enabled: Type.Union([Type.Literal('auto'), Type.Boolean()], { default: 'auto' }),
  /** MaxRtrAdvInterval of the unsolicited RAs (RFC 4861 §6.2.1: 4 to 1800 s, default 600). */
  intervalSeconds: Type.Integer({ minimum: 4, maximum: 1800, default: 600 }),
}, { additionalProperties: false });

/** Power drivers (src/power): how often the appliance asks each machine's power controller. */
export const PowerSection = Type.Object({
  /**
   * Seconds between two reads of every machine's power state (MAAS polls every 5 minutes); a change
   * or a failure goes on the machine's timeline. 0 turns the poll off (actions still confirm theirs).
   */
  pollIntervalSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 300 }),
  /** Power controllers asked at once by one poll (each IPMI read is an ipmitool process). */
  pollConcurrency: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
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
  tftp: TftpSection,
  boot: BootSection,
  api: ApiSection,
  lifecycle: LifecycleSection,
  images: ImagesSection,
  cloudInit: CloudInitSection,
  events: EventsSection,
  bmc: BmcSection,
  ipv6RouterAdvert: Ipv6RouterAdvertSection,
  power: PowerSection,
  log: LogSection,
}, { additionalProperties: false });

export type Config = Static<typeof ConfigSchema>;
export type DhcpConfig = Static<typeof DhcpSection>;
export type RelaySubnetConfig = Static<typeof RelaySubnet>;
export type ReservationConfig = Static<typeof Reservation>;
export type PlacementRuleConfig = Static<typeof PlacementRule>;
export type CloudInitConfig = Static<typeof CloudInitSection>;
export type HttpConfig = Static<typeof HttpSection>;
export type TftpConfig = Static<typeof TftpSection>;
export type BootConfig = Static<typeof BootSection>;
export type ApiConfig = Static<typeof ApiSection>;
export type LifecycleConfig = Static<typeof LifecycleSection>;
export type BmcConfig = Static<typeof BmcSection>;
export type Ipv6RouterAdvertConfig = Static<typeof Ipv6RouterAdvertSection>;
export type PowerConfig = Static<typeof PowerSection>;
