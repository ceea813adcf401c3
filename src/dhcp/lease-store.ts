// The persistence seam of the DHCP server. Implemented by src/store (SQLite) and by an in-memory fake
// for tests. Writes are two steps: upsertMany commits (synchronous: the next read sees it, and a crash
// of the process keeps it), then sync() resolves once it is on disk; the ACK that grants a lease
// leaves the socket only after both (ARCHITECTURE.md "Persistence"). Splitting them lets the server
// keep answering while the disk flushes, and lets one flush cover many commits.

/** 'offered' is only read: databases of netboot 0.1 kept offers on disk; offers now live in memory. */
export type LeaseState = 'offered' | 'bound' | 'released' | 'declined';

export interface Lease {
  readonly mac: string;
  readonly ip: string;
  readonly state: LeaseState;
  /** Unix milliseconds. */
  readonly expiresAt: number;
  readonly hostname?: string;
}

export interface LeaseStore {
  byMac(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
  /** Inserts or replaces the lease of each lease.mac, all or none, committed on return. */
  upsertMany(leases: readonly Lease[]): void;
  /** Resolves once every commit made before the call is durable (on disk); rejects if it cannot be. */
  sync(): Promise<void>;
  all(): Lease[];
}
