// Address bookkeeping of one segment's pool, for LeasePool: where the never-used scan stands, which
// addresses came back (released, expired) in the order to reuse them, and which are quarantined.
import { inPool, type Segment } from './network.js';

export class SegmentAddresses {
  /** Next never-scanned address; addresses below it were handed out or skipped at least once. */
  private cursor: number;
  /** Released or expired addresses, oldest first: reused only after never-used ones, so that a
   * returning client is likely to find its previous address still free (RFC 2131 §4.3.1). */
  private readonly recycled = new Set<number>();
  /** Declined addresses and when their quarantine ends. Kept apart from the leases because the
   * store holds one lease per MAC: the decliner's next lease replaces its 'declined' record. */
  private readonly quarantined = new Map<number, number>();
  /** No lease or offer expires before this time, so a reclaim scan before it would find nothing. */
  private nextReclaimScan = 0;

  constructor(private readonly segment: Segment) {
    this.cursor = segment.poolStart;
  }

  reset(): void {
    this.cursor = this.segment.poolStart;
    this.recycled.clear();
    this.quarantined.clear();
    this.nextReclaimScan = 0;
  }

  /** The first never-scanned pool address that `usable` accepts. */
  nextUnused(usable: (address: number) => boolean): number | undefined {
    for (; this.cursor <= this.segment.poolEnd; this.cursor++) {
      if (inPool(this.segment, this.cursor) && usable(this.cursor)) return this.cursor;
    }
    return undefined;
  }

  /** Back to the end of the reuse order: most recently used is reused last. */
  recycle(address: number): void {
    this.recycled.delete(address);
    if (inPool(this.segment, address)) this.recycled.add(address);
  }

  /** Offered or bound until `expiresAt`: not reusable, and a reclaim scan is due by then. */
  taken(address: number, expiresAt: number): void {
    this.recycled.delete(address);
    this.nextReclaimScan = Math.min(this.nextReclaimScan, expiresAt);
  }

  quarantine(address: number, until: number): void {
    this.quarantined.set(address, until);
    this.nextReclaimScan = Math.min(this.nextReclaimScan, until);
  }

  quarantinedAt(address: number, now: number): boolean {
    return (this.quarantined.get(address) ?? 0) > now;
  }

  /** The oldest recycled address that is free; forgets the ones held again (expiry brings them back). */
  firstRecycled(free: (address: number) => boolean, keep: (address: number) => boolean): number | undefined {
    for (const address of this.recycled) {
      if (free(address)) return address;
      if (!keep(address)) this.recycled.delete(address);
    }
    return undefined;
  }

  /**
   * Recycles every expired lease's and quarantine's address. `scan` is O(leases), so it runs only
   * when the pool has nothing else, and at most once per expiry time: an exhausted pool under a
   * flood of DISCOVERs does not rescan for each one.
   */
  reclaim(now: number, scan: () => { expired: readonly number[]; soonest: number }): void {
    if (now < this.nextReclaimScan) return;
    const result = scan();
    let soonest = result.soonest;
    for (const address of result.expired) this.recycle(address);
    for (const [address, until] of this.quarantined) {
      if (until > now) {
        soonest = Math.min(soonest, until);
      } else {
        this.quarantined.delete(address);
        this.recycle(address);
      }
    }
    this.nextReclaimScan = soonest;
  }
}
