// Lease allocation policy over a LeaseStore (RFC 2131 §4.3.1 address choice, §4.3.2 binding).
//
// One lease per MAC: leases are keyed on chaddr, never on option 61, because the same machine sends
// no client identifier from OVMF and 01+MAC from iPXE (FACTS.md), and both must get one address.
//
// Reading and writing are split so that respond.ts stays a function from values to values: the
// `plan*` and `status` methods only read (the store and a few caches) and return the Lease to write;
// the server calls `commit` with it before the reply leaves the socket (ARCHITECTURE.md).
// Times are Unix milliseconds passed in by the caller (the server's injected clock).
import type { DhcpConfig } from '../config/schema.js';
import { formatIpv4, parseIpv4 } from './codec/index.js';
import type { Lease, LeaseStore } from './lease-store.js';
import { inPool, inSubnet, servedNetwork, type ServedNetwork } from './network.js';

/** Why an address cannot be given to a client (or that it can). */
export type AddressStatus =
  | 'free' // in the pool, nobody holds it
  | 'held-by-client' // the client's own offered or bound lease
  | 'held-by-other' // another MAC's unexpired lease
  | 'quarantined' // declined (RFC 2131 §4.3.3) and not yet expired
  | 'outside-pool' // in our subnet but not ours to hand out
  | 'outside-subnet'; // wrong network for this client (RFC 2131 §4.3.2: NAK)

export type OfferPlan =
  | { readonly ok: true; readonly ip: string; readonly write?: Lease }
  | { readonly ok: false; readonly reason: 'pool-exhausted' };

export class LeasePool {
  readonly network: ServedNetwork;
  private readonly offerMillis: number;
  private readonly leaseMillis: number;
  /** Next never-scanned address; addresses below it were handed out or skipped at least once. */
  private cursor: number;
  /** Released or expired addresses, oldest first: reused only after never-used ones, so that a
   * returning client is likely to find its previous address still free (RFC 2131 §4.3.1). */
  private readonly recycled = new Set<number>();
  /** Declined addresses and when their quarantine ends. Kept here as well as in the store because
   * the store holds one lease per MAC: the decliner's next lease replaces its 'declined' record. */
  private readonly quarantine = new Map<number, number>();
  /** No expired lease can exist before this time, so a full scan before it would find nothing. */
  private nextReclaimScan = 0;

  constructor(private readonly store: LeaseStore, config: DhcpConfig, now: number) {
    this.network = servedNetwork(config);
    this.offerMillis = config.offerTimeout * 1000;
    this.leaseMillis = config.leaseTime * 1000;
    this.cursor = this.network.poolStart;
    const reusable: Lease[] = [];
    for (const lease of store.all()) {
      const ip = parseIpv4(lease.ip);
      if (ip === undefined) continue;
      if (lease.state === 'declined' && lease.expiresAt > now) this.quarantine.set(ip, lease.expiresAt);
      else if (lease.state === 'released' || lease.expiresAt <= now) reusable.push(lease);
    }
    reusable.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const lease of reusable) this.recycled.add(parseIpv4(lease.ip)!);
  }

  /** The client's lease record, whatever its state. */
  leaseOf(mac: string): Lease | undefined {
    return this.store.byMac(mac);
  }

  status(ip: string, mac: string, now: number): AddressStatus {
    const address = parseIpv4(ip);
    if (address === undefined || !inSubnet(this.network.subnet, address)) return 'outside-subnet';
    if (!inPool(this.network, address)) return 'outside-pool';
    const quarantinedUntil = this.quarantine.get(address);
    if (quarantinedUntil !== undefined && quarantinedUntil > now) return 'quarantined';
    const holder = this.store.byIp(ip);
    if (!holder || holder.state === 'released' || holder.expiresAt <= now) return 'free';
    if (holder.state === 'declined') return 'quarantined';
    return holder.mac === mac ? 'held-by-client' : 'held-by-other';
  }

  /** Whether `ip` may be given to `mac` now. */
  availableTo(ip: string, mac: string, now: number): boolean {
    const status = this.status(ip, mac, now);
    return status === 'free' || status === 'held-by-client';
  }

  /**
   * Chooses the address to OFFER (RFC 2131 §4.3.1): the client's current or previous address, else
   * the address it asked for (option 50), else a never-used one, else the longest-unused one.
   * The offer holds the address for offerTimeout; a bound, unexpired lease on it is left alone.
   */
  planOffer(mac: string, requested: string | undefined, now: number): OfferPlan {
    const current = this.store.byMac(mac);
    const ip = [current?.ip, requested].find((candidate) => candidate !== undefined
      && this.availableTo(candidate, mac, now)) ?? this.takeFreeAddress(mac, now);
    if (ip === undefined) return { ok: false, reason: 'pool-exhausted' };
    if (current && current.ip === ip && current.state === 'bound' && current.expiresAt > now) {
      return { ok: true, ip };
    }
    const write: Lease = { mac, ip, state: 'offered', expiresAt: now + this.offerMillis };
    return { ok: true, ip, write: current?.hostname ? { ...write, hostname: current.hostname } : write };
  }

  /** The bound lease an ACK grants; the caller has checked availableTo. */
  planBind(mac: string, ip: string, now: number, hostname?: string): Lease {
    const lease: Lease = { mac, ip, state: 'bound', expiresAt: now + this.leaseMillis };
    const name = hostname ?? this.store.byMac(mac)?.hostname;
    return name ? { ...lease, hostname: name } : lease;
  }

  /** RFC 2131 §4.3.4: the address returns to the pool at once. */
  planRelease(lease: Lease, now: number): Lease {
    return { ...lease, state: 'released', expiresAt: now };
  }

  /** RFC 2131 §4.3.3: the address is in use by someone we do not know; keep it out for a lease time. */
  planDecline(lease: Lease, now: number): Lease {
    return { ...lease, state: 'declined', expiresAt: now + this.leaseMillis };
  }

  get leaseSeconds(): number {
    return this.leaseMillis / 1000;
  }

  /** Writes the lease (durable on return, LeaseStore contract) and updates the caches. */
  commit(lease: Lease): void {
    const previous = this.store.byMac(lease.mac);
    this.store.upsert(lease);
    const address = parseIpv4(lease.ip);
    if (address === undefined) return;
    if (previous && previous.ip !== lease.ip) {
      // The store keeps one lease per MAC: the client's old address is free again.
      const old = parseIpv4(previous.ip);
      if (old !== undefined && previous.state !== 'declined') this.recycle(old);
    }
    if (lease.state === 'released') {
      this.recycle(address);
      return;
    }
    this.recycled.delete(address);
    if (lease.state === 'declined') this.quarantine.set(address, lease.expiresAt);
    this.nextReclaimScan = Math.min(this.nextReclaimScan, lease.expiresAt);
  }

  private recycle(address: number): void {
    this.recycled.delete(address); // re-insert at the end: most recently used is reused last
    this.recycled.add(address);
  }

  /** A free address not chosen by the client: never-used first, then recycled, then reclaimed. */
  private takeFreeAddress(mac: string, now: number): string | undefined {
    for (; this.cursor <= this.network.poolEnd; this.cursor++) {
      const ip = formatIpv4(this.cursor);
      // An address with another MAC's record, even a released or expired one, is not "never used":
      // it comes back through `recycled`, after the never-used ones.
      const holder = this.store.byIp(ip);
      if ((holder === undefined || holder.mac === mac) && this.availableTo(ip, mac, now)) return ip;
    }
    const recycled = this.firstRecycled(mac, now);
    if (recycled !== undefined) return recycled;
    this.reclaimExpired(now);
    return this.firstRecycled(mac, now);
  }

  private firstRecycled(mac: string, now: number): string | undefined {
    for (const address of this.recycled) {
      const ip = formatIpv4(address);
      const status = this.status(ip, mac, now);
      if (status === 'free' || status === 'held-by-client') return ip;
      // Held again, or moved out of the pool by a config change: forget it; expiry brings it back.
      if (status !== 'quarantined') this.recycled.delete(address);
    }
    return undefined;
  }

  /**
   * Adds every expired lease's address to the recycled set. O(leases), so it runs only when the pool
   * has nothing else, and at most once per expiry time: an exhausted pool under a flood of DISCOVERs
   * does not rescan the store for each one.
   */
  private reclaimExpired(now: number): void {
    if (now < this.nextReclaimScan) return;
    let soonest = Number.POSITIVE_INFINITY;
    const expired: Lease[] = [];
    for (const lease of this.store.all()) {
      if (lease.state === 'released' || lease.expiresAt <= now) expired.push(lease);
      else soonest = Math.min(soonest, lease.expiresAt);
    }
    expired.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const lease of expired) {
      const address = parseIpv4(lease.ip);
      if (address !== undefined && inPool(this.network, address)) this.recycled.add(address);
    }
    // A quarantine can outlive its store record (the decliner's next lease replaced it).
    for (const [address, until] of this.quarantine) {
      if (until > now) {
        soonest = Math.min(soonest, until);
      } else {
        this.quarantine.delete(address);
        if (inPool(this.network, address)) this.recycled.add(address);
      }
    }
    this.nextReclaimScan = soonest;
  }
}
