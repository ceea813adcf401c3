// Lease allocation policy over a LeaseStore (RFC 2131 §4.3.1 address choice, §4.3.2 binding), for
// every served segment.
//
// One lease per MAC: leases are keyed on chaddr, never on option 61, because the same machine sends
// no client identifier from OVMF and 01+MAC from iPXE (FACTS.md), and both must get one address.
//
// State lives in memory (every lease, loaded once; the pending offers) and the store is written
// through: `commit` updates memory at once, so the next request planned sees it even before the disk
// write, and `flush` writes every committed lease in one transaction (group commit). The server
// flushes before any reply that depends on the write leaves (ARCHITECTURE.md). Offers are memory
// only: an offer lost in a restart costs the client one more DISCOVER, and it keeps the disk writes
// of a DORA to one (the ACK).
// Times are Unix milliseconds passed in by the caller (the server's injected clock).
import type { DhcpConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { formatIpv4, parseIpv4 } from './codec/index.js';
import type { Lease, LeaseStore } from './lease-store.js';
import { inPool, inSubnet, segmentOf, servedNetwork, type Segment, type ServedNetwork } from './network.js';
import { SegmentAddresses } from './segment-addresses.js';

/** Why an address cannot be given to a client (or that it can). */
export type AddressStatus =
  | 'free' // in the pool (or reserved for this client), nobody holds it
  | 'held-by-client' // the client's own offered or bound lease
  | 'held-by-other' // another MAC's unexpired lease or pending offer
  | 'reserved-for-other' // a reservation of another MAC
  | 'quarantined' // declined (RFC 2131 §4.3.3) and not yet expired
  | 'outside-pool' // in the segment but not ours to hand out
  | 'outside-subnet'; // wrong network for this client (RFC 2131 §4.3.2: NAK)

export type OfferPlan =
  | { readonly ok: true; readonly ip: string; readonly offer: PendingOffer }
  | { readonly ok: false; readonly reason: 'pool-exhausted' };

export interface PendingOffer {
  readonly mac: string;
  readonly ip: string;
  readonly expiresAt: number;
}

interface Reservation {
  readonly ip: number;
  readonly hostname?: string;
}

export class LeasePool {
  readonly network: ServedNetwork;
  private readonly offerMillis: number;
  private readonly byMac = new Map<string, Lease>();
  private readonly byIp = new Map<number, Lease>();
  private readonly offers = new Map<number, PendingOffer>();
  private readonly offerByMac = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly reservedIps = new Map<number, string>();
  private readonly addresses: Map<Segment, SegmentAddresses>;
  private pending = new Map<string, Lease>();

  constructor(private readonly store: LeaseStore, config: DhcpConfig, now: number) {
    this.network = servedNetwork(config);
    this.offerMillis = config.offerTimeout * 1000;
    this.addresses = new Map(this.network.segments.map((segment) => [segment, new SegmentAddresses(segment)]));
    for (const { mac, ip, hostname } of config.reservations) this.reserve(mac.toLowerCase(), ip, hostname);
    config.placement.forEach((rule, index) => {
      if (rule.subnet !== undefined && !this.network.segments.some((segment) => segment.name === rule.subnet)) {
        throw new ConfigError(`dhcp.placement[${index}].subnet ${rule.subnet} is not dhcp.subnet or one of dhcp.relaySubnets`);
      }
    });
    this.load(now);
  }

  private reserve(mac: string, ip: string, hostname: string | undefined): void {
    const address = parseIpv4(ip)!;
    const segment = segmentOf(this.network, address);
    if (!segment) throw new ConfigError(`dhcp.reservations: ${ip} (for ${mac}) is on no served subnet`);
    if (segment.excluded.has(address)) throw new ConfigError(`dhcp.reservations: ${ip} is the network, broadcast, router or server address`);
    if (this.reservations.has(mac)) throw new ConfigError(`dhcp.reservations: ${mac} is reserved twice`);
    const other = this.reservedIps.get(address);
    if (other) throw new ConfigError(`dhcp.reservations: ${ip} is reserved for both ${other} and ${mac}`);
    this.reservations.set(mac, hostname === undefined ? { ip: address } : { ip: address, hostname });
    this.reservedIps.set(address, mac);
  }

  /** (Re)builds the memory indexes from the store: at start, and after a failed flush. */
  private load(now: number): void {
    this.byMac.clear();
    this.byIp.clear();
    for (const addresses of this.addresses.values()) addresses.reset();
    const reusable: Lease[] = [];
    for (const lease of this.store.all()) {
      const ip = parseIpv4(lease.ip);
      if (ip === undefined) continue;
      this.index(lease, ip);
      if (lease.state === 'declined' && lease.expiresAt > now) this.addressesOf(ip)?.quarantine(ip, lease.expiresAt);
      else if (lease.state !== 'bound' || lease.expiresAt <= now) reusable.push(lease);
    }
    reusable.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const lease of reusable) this.addressesOf(parseIpv4(lease.ip)!)?.recycle(parseIpv4(lease.ip)!);
  }

  private index(lease: Lease, ip: number): void {
    const previous = this.byMac.get(lease.mac);
    if (previous && previous.ip !== lease.ip) {
      const old = parseIpv4(previous.ip)!;
      if (this.byIp.get(old)?.mac === lease.mac) this.byIp.delete(old);
    }
    const displaced = this.byIp.get(ip);
    if (displaced && displaced.mac !== lease.mac) this.byMac.delete(displaced.mac); // its lease expired; the store drops it too
    this.byMac.set(lease.mac, lease);
    this.byIp.set(ip, lease);
  }

  private addressesOf(ip: number): SegmentAddresses | undefined {
    const segment = segmentOf(this.network, ip);
    return segment && this.addresses.get(segment);
  }

  /** The client's lease record, whatever its state. */
  leaseOf(mac: string): Lease | undefined {
    return this.byMac.get(mac);
  }

  /** The MAC holding (or last holding) this address. */
  holderOf(ip: string): Lease | undefined {
    const address = parseIpv4(ip);
    return address === undefined ? undefined : this.byIp.get(address);
  }

  hostnameReservedFor(mac: string): string | undefined {
    return this.reservations.get(mac)?.hostname;
  }

  status(segment: Segment, ip: string, mac: string, now: number): AddressStatus {
    const address = parseIpv4(ip);
    if (address === undefined || !inSubnet(segment.subnet, address)) return 'outside-subnet';
    const reservedFor = this.reservedIps.get(address);
    if (reservedFor !== undefined && reservedFor !== mac) return 'reserved-for-other';
    if (reservedFor === undefined && !inPool(segment, address)) return 'outside-pool';
    if (this.addresses.get(segment)!.quarantinedAt(address, now)) return 'quarantined';
    const offer = this.offers.get(address);
    if (offer && offer.expiresAt > now && offer.mac !== mac) return 'held-by-other';
    const holder = this.byIp.get(address);
    if (!holder || holder.state === 'released' || holder.state === 'offered' || holder.expiresAt <= now) return 'free';
    if (holder.state === 'declined') return 'quarantined';
    return holder.mac === mac ? 'held-by-client' : 'held-by-other';
  }

  /** Whether `ip` may be given to `mac` now. */
  availableTo(segment: Segment, ip: string, mac: string, now: number): boolean {
    const status = this.status(segment, ip, mac, now);
    return status === 'free' || status === 'held-by-client';
  }

  /**
   * Chooses the address to OFFER (RFC 2131 §4.3.1): the client's reservation, else its current or
   * previous address, else the address it asked for (option 50), else a never-used one, else the
   * longest-unused one. The offer holds the address for offerTimeout (memory only: `hold`).
   */
  planOffer(segment: Segment, mac: string, requested: string | undefined, now: number): OfferPlan {
    const reserved = this.reservations.get(mac);
    const pendingIp = this.offerByMac.get(mac);
    const candidates = [
      reserved === undefined ? undefined : formatIpv4(reserved.ip),
      pendingIp === undefined ? undefined : formatIpv4(pendingIp),
      this.byMac.get(mac)?.ip,
      requested,
    ];
    const ip = candidates.find((candidate) => candidate !== undefined && this.availableTo(segment, candidate, mac, now))
      ?? this.takeFreeAddress(segment, mac, now);
    if (ip === undefined) return { ok: false, reason: 'pool-exhausted' };
    return { ok: true, ip, offer: { mac, ip, expiresAt: now + this.offerMillis } };
  }

  /** Holds an offered address for its client until the offer expires (memory only). */
  hold(offer: PendingOffer): void {
    const address = parseIpv4(offer.ip)!;
    const previous = this.offerByMac.get(offer.mac);
    // Drop the client's earlier hold, but only if it is still its own: once that offer expired, the
    // address may have been offered to another client, whose hold must stay (a property test found a
    // third client's SELECTING REQUEST granted an address held for another).
    if (previous !== undefined && previous !== address && this.offers.get(previous)?.mac === offer.mac) this.offers.delete(previous);
    this.offers.set(address, offer);
    this.offerByMac.set(offer.mac, address);
    this.addressesOf(address)?.taken(address, offer.expiresAt);
  }

  /** The bound lease an ACK grants; the caller has checked availableTo. */
  planBind(segment: Segment, mac: string, ip: string, now: number, hostname?: string): Lease {
    const lease: Lease = { mac, ip, state: 'bound', expiresAt: now + segment.options.leaseTime * 1000 };
    const name = this.reservations.get(mac)?.hostname ?? hostname ?? this.byMac.get(mac)?.hostname;
    return name ? { ...lease, hostname: name } : lease;
  }

  /** RFC 2131 §4.3.4: the address returns to the pool at once. */
  planRelease(lease: Lease, now: number): Lease {
    return { ...lease, state: 'released', expiresAt: now };
  }

  /** RFC 2131 §4.3.3: the address is in use by someone we do not know; keep it out for a lease time. */
  planDecline(lease: Lease, now: number): Lease {
    const segment = segmentOf(this.network, parseIpv4(lease.ip)!) ?? this.network.local;
    return { ...lease, state: 'declined', expiresAt: now + segment.options.leaseTime * 1000 };
  }

  /** Updates memory at once and queues the write for `flush`. */
  commit(lease: Lease): void {
    const address = parseIpv4(lease.ip);
    if (address === undefined) return;
    const previous = this.byMac.get(lease.mac);
    this.index(lease, address);
    this.pending.set(lease.mac, lease);
    const offered = this.offerByMac.get(lease.mac);
    if (offered !== undefined) {
      this.offers.delete(offered);
      this.offerByMac.delete(lease.mac);
      if (offered !== address) this.addressesOf(offered)?.recycle(offered);
    }
    if (previous && previous.ip !== lease.ip && previous.state !== 'declined') {
      // The store keeps one lease per MAC: the client's old address is free again.
      const old = parseIpv4(previous.ip)!;
      this.addressesOf(old)?.recycle(old);
    }
    const addresses = this.addressesOf(address);
    if (lease.state === 'released') addresses?.recycle(address);
    else addresses?.taken(address, lease.expiresAt);
    if (lease.state === 'declined') addresses?.quarantine(address, lease.expiresAt);
  }

  /** Leases committed but not yet written. */
  get unflushed(): number {
    return this.pending.size;
  }

  /**
   * Writes every committed lease in one transaction (committed on return; `durable` waits for the
   * disk). On failure memory is rebuilt from the store (what is really in it) and the error is
   * thrown: the caller must not send the replies that depended on these leases.
   */
  flush(now: number): void {
    if (this.pending.size === 0) return;
    const leases = [...this.pending.values()];
    this.pending = new Map();
    try {
      this.store.upsertMany(leases);
    } catch (error) {
      this.load(now);
      throw error;
    }
  }

  /** Resolves once every flushed lease is on disk (the store's sync); rejects if that fails. */
  durable(): Promise<void> {
    return this.store.sync();
  }

  /** A free address in `segment` not chosen by the client: never-used first, then recycled, then reclaimed. */
  private takeFreeAddress(segment: Segment, mac: string, now: number): string | undefined {
    const free = (address: number) => this.availableTo(segment, formatIpv4(address), mac, now);
    const addresses = this.addresses.get(segment)!;
    // An address with another MAC's record, even a released or expired one, is not "never used":
    // it comes back through the recycled list, after the never-used ones.
    const neverUsed = addresses.nextUnused((address) => {
      const holder = this.byIp.get(address);
      return (holder === undefined || holder.mac === mac) && !this.reservedIps.has(address) && free(address);
    });
    if (neverUsed !== undefined) return formatIpv4(neverUsed);
    const recycled = addresses.firstRecycled(free, (address) => this.status(segment, formatIpv4(address), mac, now) === 'quarantined');
    if (recycled !== undefined) return formatIpv4(recycled);
    addresses.reclaim(now, () => this.expiredIn(segment, now));
    const reclaimed = addresses.firstRecycled(free, () => false);
    return reclaimed === undefined ? undefined : formatIpv4(reclaimed);
  }

  /** Expired leases and offers of a segment, oldest first, and the soonest future expiry. */
  private expiredIn(segment: Segment, now: number): { expired: number[]; soonest: number } {
    let soonest = Number.POSITIVE_INFINITY;
    const expired: Array<{ address: number; at: number }> = [];
    const consider = (address: number, state: string, expiresAt: number) => {
      if (!inSubnet(segment.subnet, address)) return;
      if (state === 'released' || state === 'offered' || expiresAt <= now) expired.push({ address, at: expiresAt });
      else soonest = Math.min(soonest, expiresAt);
    };
    for (const [address, lease] of this.byIp) consider(address, lease.state, lease.expiresAt);
    for (const [address, offer] of this.offers) {
      if (offer.expiresAt <= now) {
        this.offers.delete(address);
        if (this.offerByMac.get(offer.mac) === address) this.offerByMac.delete(offer.mac);
      }
      consider(address, 'pending', offer.expiresAt);
    }
    expired.sort((a, b) => a.at - b.at);
    return { expired: expired.map((e) => e.address), soonest };
  }
}
