// The persistence seam of the DHCP server. Implemented by src/store (SQLite) and by an in-memory fake
// for tests. Methods are synchronous on purpose: a lease is on disk when upsertMany returns, so the
// ACK that grants it can only leave the socket afterwards (ARCHITECTURE.md "Persistence").

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
  /** Inserts or replaces the lease of each lease.mac, all or none; durable on return. */
  upsertMany(leases: readonly Lease[]): void;
  all(): Lease[];
}
