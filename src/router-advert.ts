// IPv6 Router Advertisements on the boot interface that say "no router here" (issue 17): router
// lifetime 0, no Prefix Information, M=0, O=0 (RFC 4861 §4.2). iPXE's `ifconf` runs IPv6 router
// discovery beside DHCPv4 and waits for both; on an IPv4-only boot network no RA ever comes and every
// boot waits ~14 s. This RA ends that wait and changes nothing for the hosts: a lifetime of 0 makes us
// no default router (§6.3.4), and without prefixes or M/O flags no address is configured.
//
// Sent from the interface's link-local address with hop limit 255 (§6.1.2) through a raw ICMPv6
// socket (native/icmp6-ra.c, polled from a timer: that file says why): once at start, then as
// §6.2.4 says (the first three at most 16 s apart, then every 0.33..1 x intervalSeconds), and in
// answer to each valid Router Solicitation after a random 0-500 ms, at most one every 3 s (§6.2.6).
// When another router's RA with a lifetime, a prefix or the M or O flag is heard, we log it once and
// go quiet for the life of the process: that router owns IPv6 on the segment.
import type { Logger } from 'pino';
import { networkInterfaces } from 'node:os';
import { loadAddon } from './native-addon.js';

interface Icmp6Addon {
  open(ifname: string, linkLocal: string): number;
  recv(fd: number): { data: Buffer; hopLimit: number; source: string } | number;
  send(fd: number, message: Buffer, destination: string): number;
  close(fd: number): void;
}

const loaded = loadAddon<Icmp6Addon>('icmp6_ra');

/** ICMPv6 types (RFC 4861 §4.1, §4.2). */
export const routerSolicitation = 133;
export const routerAdvertisementType = 134;
/** RFC 4861 §10 constants, in milliseconds. */
const maxRaDelayTime = 500;
const minDelayBetweenRas = 3000;
const maxInitialRtrAdvertInterval = 16_000;
const maxInitialRtrAdvertisements = 3;
/** How often the socket is read; see native/icmp6-ra.c for why a timer. */
const pollMs = 100;
/** While the interface has no usable link-local address yet (DAD takes ~1-2 s after link up). */
const retryOpenMs = 2000;

/** Why RAs cannot be sent in this process, or undefined when the addon is loaded. */
export function routerAdvertUnavailable(): string | undefined {
  return loaded.why;
}

/**
 * The Router Advertisement (RFC 4861 §4.2): Cur Hop Limit 0 (unspecified), M=0, O=0, Router
 * Lifetime 0, Reachable Time and Retrans Timer 0 (unspecified), and only a Source Link-Layer Address
 * option (§4.6.1; SHOULD be included, §6.2.3). The checksum is left 0: the kernel fills it in.
 */
export function routerAdvertisement(mac?: string): Buffer {
  const bytes = mac ? macBytes(mac) : undefined;
  const message = Buffer.alloc(bytes ? 24 : 16);
  message[0] = routerAdvertisementType;
  if (bytes) {
    message[16] = 1; // Source Link-Layer Address
    message[17] = 1; // length in units of 8 octets
    bytes.copy(message, 18);
  }
  return message;
}

function macBytes(mac: string): Buffer | undefined {
  const parts = mac.split(':');
  if (parts.length !== 6 || mac === '00:00:00:00:00:00') return undefined;
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

/** The option types and whole-option checks of §6.1.1/§6.1.2; undefined when malformed. */
function optionTypes(data: Buffer, from: number): Array<{ type: number; at: number }> | undefined {
  const options: Array<{ type: number; at: number }> = [];
  for (let at = from; at < data.length;) {
    if (at + 2 > data.length) return undefined;
    const length = data[at + 1]! * 8;
    if (length === 0 || at + length > data.length) return undefined; // §6.1: length 0 is invalid
    options.push({ type: data[at]!, at });
    at += length;
  }
  return options;
}

export interface Received {
  readonly data: Buffer;
  readonly hopLimit: number;
  readonly source: string;
}

/** RFC 4861 §6.1.1: hop limit 255, code 0, at least 8 octets, sane options, no SLLA from ::. */
export function validSolicitation({ data, hopLimit, source }: Received): boolean {
  if (hopLimit !== 255 || data.length < 8 || data[0] !== routerSolicitation || data[1] !== 0) return false;
  const options = optionTypes(data, 8);
  if (!options) return false;
  return !(source === '::' && options.some((o) => o.type === 1));
}

export interface AdvertSummary {
  readonly routerLifetime: number;
  readonly managed: boolean;
  readonly other: boolean;
  /** Prefix Information options (§4.6.2), as prefix/length. */
  readonly prefixes: string[];
}

/** RFC 4861 §6.1.2 checks, then what the RA announces; undefined when it is not a valid RA. */
export function parseAdvertisement({ data, hopLimit, source }: Received): AdvertSummary | undefined {
  if (hopLimit !== 255 || data.length < 16 || data[0] !== routerAdvertisementType || data[1] !== 0) return undefined;
  if (!/^fe[89ab]/i.test(source)) return undefined;
  const options = optionTypes(data, 16);
  if (!options) return undefined;
  const prefixes = options.filter((o) => o.type === 3 && data[o.at + 1] === 4).map((o) => {
    const words = Array.from({ length: 8 }, (_, i) => data.readUInt16BE(o.at + 16 + i * 2).toString(16));
    return `${new URL(`http://[${words.join(':')}]`).hostname.slice(1, -1)}/${data[o.at + 2]}`; // URL compresses it
  });
  return { routerLifetime: data.readUInt16BE(6), managed: (data[5]! & 0x80) !== 0, other: (data[5]! & 0x40) !== 0, prefixes };
}

/**
 * Whether an RA configures IPv6 on the segment: a default router (lifetime > 0), a prefix, or
 * DHCPv6 (M or O). Then its sender owns IPv6 there and our M=0 O=0 would contradict it (§6.2.7).
 */
export function configuresIpv6(advert: AdvertSummary): boolean {
  return advert.routerLifetime > 0 || advert.prefixes.length > 0 || advert.managed || advert.other;
}

/** Our link-local address and MAC on `ifname`, from getifaddrs(3). */
function linkLocalOf(ifname: string): { address: string; mac: string } | undefined {
  const entry = networkInterfaces()[ifname]?.find((a) => a.family === 'IPv6' && /^fe80:/i.test(a.address));
  return entry ? { address: entry.address, mac: entry.mac } : undefined;
}

export interface RouterAdvertiserOptions {
  readonly interface: string;
  readonly intervalSeconds: number;
  readonly log: Logger;
  readonly random?: () => number;
}

export interface RouterAdvertiserStatus {
  /** The socket is open and RAs go out. */
  readonly advertising: boolean;
  /** Another router was heard: nothing more is sent. */
  readonly quiet: boolean;
  readonly sent: number;
  readonly solicitations: number;
}

export class RouterAdvertiser {
  private fd: number | undefined;
  private own: { address: string; mac: string } | undefined;
  private message = routerAdvertisement();
  private readonly timers = new Set<NodeJS.Timeout>();
  private poll: NodeJS.Timeout | undefined;
  private answer: NodeJS.Timeout | undefined;
  private lastSent = -Infinity;
  private unsolicited = 0;
  private sent = 0;
  private solicitations = 0;
  private quiet = false;
  private closed = false;
  private warnedOpen = false;
  private readonly log: Logger;
  private readonly random: () => number;

  private constructor(private readonly options: RouterAdvertiserOptions) {
    this.log = options.log.child({ subsystem: 'ipv6-ra', interface: options.interface });
    this.random = options.random ?? Math.random;
  }

  /** Starts advertising on the interface; never throws (RAs only shorten boots). */
  static start(options: RouterAdvertiserOptions): RouterAdvertiser {
    const advertiser = new RouterAdvertiser(options);
    if (!loaded.addon) {
      advertiser.log.warn(`IPv6 router advertisements are off: ${loaded.why}; iPXE waits ~14 s for IPv6 router discovery on every boot`);
      return advertiser;
    }
    advertiser.tryOpen();
    return advertiser;
  }

  status(): RouterAdvertiserStatus {
    return { advertising: this.fd !== undefined, quiet: this.quiet, sent: this.sent, solicitations: this.solicitations };
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.poll) clearInterval(this.poll);
    if (this.answer) clearTimeout(this.answer);
    this.poll = this.answer = undefined;
    if (this.fd !== undefined) loaded.addon!.close(this.fd);
    this.fd = undefined;
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private tryOpen(): void {
    const own = linkLocalOf(this.options.interface);
    let why: string;
    if (own) {
      try {
        this.fd = loaded.addon!.open(this.options.interface, own.address);
        this.own = own;
        this.message = routerAdvertisement(own.mac);
        this.log.info({ source: own.address }, 'sending IPv6 router advertisements with router lifetime 0 (no router, no prefixes: iPXE need not wait for one)');
        this.poll = setInterval(() => this.read(), pollMs);
        this.poll.unref();
        this.advertise();
        return;
      } catch (err) {
        why = (err as Error).message;
      }
    } else {
      why = `${this.options.interface} has no IPv6 link-local address`;
    }
    // A missing or tentative (DAD) address comes right after link up; anything else will not pass.
    const transient = !own || /Cannot assign requested address/.test(why);
    if (!transient) {
      this.log.warn(`IPv6 router advertisements are off: ${why}; iPXE waits ~14 s for IPv6 router discovery on every boot`);
      return;
    }
    if (!this.warnedOpen) {
      this.warnedOpen = true;
      this.log.warn(`IPv6 router advertisements wait: ${why} (retrying every ${retryOpenMs / 1000} s)`);
    }
    this.after(retryOpenMs, () => this.tryOpen());
  }

  /** An unsolicited RA, and the next one scheduled (§6.2.4). */
  private advertise(): void {
    this.send();
    this.unsolicited++;
    const max = this.options.intervalSeconds * 1000;
    let next = max * (0.33 + 0.67 * this.random()); // MinRtrAdvInterval = 0.33 x Max (§6.2.1)
    if (this.unsolicited < maxInitialRtrAdvertisements) next = Math.min(next, maxInitialRtrAdvertInterval);
    this.after(next, () => this.advertise());
  }

  private send(): void {
    if (this.fd === undefined || this.quiet) return;
    const result = loaded.addon!.send(this.fd, this.message, 'ff02::1');
    this.lastSent = Date.now();
    if (result < 0) this.log.debug({ errno: -result }, 'sending a router advertisement failed');
    else this.sent++;
  }

  private read(): void {
    for (let i = 0; i < 64 && this.fd !== undefined; i++) {
      const received = loaded.addon!.recv(this.fd);
      if (typeof received === 'number') return; // -EAGAIN: drained (other errors: next poll)
      if (received.source === this.own?.address) continue;
      if (received.data[0] === routerSolicitation) this.solicited(received);
      else this.heardAdvertisement(received);
    }
  }

  /** §6.2.6: answer to all-nodes after 0..MAX_RA_DELAY_TIME, at most one per MIN_DELAY_BETWEEN_RAS. */
  private solicited(received: Received): void {
    if (!validSolicitation(received)) return;
    this.solicitations++;
    if (this.answer) return; // one answer covers every solicitation that came meanwhile
    const at = Math.max(Date.now() + this.random() * maxRaDelayTime, this.lastSent + minDelayBetweenRas);
    this.answer = setTimeout(() => {
      this.answer = undefined;
      this.send();
    }, at - Date.now());
    this.answer.unref();
  }

  private heardAdvertisement(received: Received): void {
    const advert = parseAdvertisement(received);
    if (!advert || !configuresIpv6(advert)) return; // another netboot, say: no conflict
    this.quiet = true;
    this.log.warn({ router: received.source, ...advert },
      'another IPv6 router advertises on the boot network: netboot stops sending router advertisements there (that router answers iPXE)');
    this.close();
  }
}
