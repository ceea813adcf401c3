// Shared fakes and builders for the DHCP tests (STYLE.md §12).
import { Buffer } from 'node:buffer';
import pino, { type Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { DhcpSection, type DhcpConfig } from '../../src/config/schema.js';
import type { Lease, LeaseStore } from '../../src/dhcp/lease-store.js';
import {
  BootOp, BROADCAST_FLAG, type DhcpOptions, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';
import type {
  BootClient, Booter, BootSpec, EventSink, MachineEventInput,
} from '../../src/machines/boot.js';

/**
 * In-memory LeaseStore with the same semantics as src/store's SQLite one: one lease per MAC, and an
 * upsert drops another MAC's row on the same address (ip is UNIQUE there). Records every write in
 * order so tests can check what was written before a reply left.
 */
export class InMemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, Lease>();
  private readonly macByIp = new Map<string, string>();
  readonly writes: Lease[] = [];
  /** How many upsertMany calls (transactions) were made. */
  transactions = 0;
  /** Set to make the next upsertMany throw, as a full disk would. */
  failNextWrite = false;
  /** Set to make the next sync reject, as a failing disk flush (EIO) would. */
  failNextSync = false;
  /** How many sync calls resolved. */
  syncs = 0;

  constructor(initial: readonly Lease[] = []) {
    for (const lease of initial) this.put(lease);
  }

  byMac(mac: string): Lease | undefined {
    return this.leases.get(mac);
  }

  byIp(ip: string): Lease | undefined {
    const mac = this.macByIp.get(ip);
    return mac === undefined ? undefined : this.leases.get(mac);
  }

  upsertMany(leases: readonly Lease[]): void {
    if (this.failNextWrite) {
      this.failNextWrite = false;
      throw new Error('disk full');
    }
    this.transactions += 1;
    for (const lease of leases) {
      this.put(lease);
      this.writes.push(lease);
    }
  }

  async sync(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // a flush is never instant
    if (this.failNextSync) {
      this.failNextSync = false;
      throw new Error('EIO: fdatasync failed');
    }
    this.syncs += 1;
  }

  private put(lease: Lease): void {
    const displaced = this.macByIp.get(lease.ip);
    if (displaced !== undefined && displaced !== lease.mac) this.leases.delete(displaced);
    const previous = this.leases.get(lease.mac);
    if (previous) this.macByIp.delete(previous.ip);
    this.leases.set(lease.mac, lease);
    this.macByIp.set(lease.ip, lease.mac);
  }

  all(): Lease[] {
    return [...this.leases.values()];
  }
}

export const enlistSpec: BootSpec = {
  purpose: 'enlist', kernel: 'k-1', initrd: ['i-1'], cmdline: 'console=ttyS0',
};

/** Answers every client with `spec`, except the MACs in `ignore` (null); remembers who asked. */
export class FakeBooter implements Booter {
  readonly asked: BootClient[] = [];

  constructor(private readonly spec: BootSpec = enlistSpec, private readonly ignore: readonly string[] = []) {}

  bootSpec(client: BootClient): Promise<BootSpec | null> {
    this.asked.push(client);
    return Promise.resolve(this.ignore.includes(client.mac) ? null : this.spec);
  }
}

export class RecordingEvents implements EventSink {
  readonly events: MachineEventInput[] = [];

  record(event: MachineEventInput): void {
    this.events.push(event);
  }
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A DhcpConfig with the schema's defaults under `fields` (as config/load.ts fills them). */
export function dhcpConfig(fields: Partial<DhcpConfig> & Pick<DhcpConfig, 'serverAddress'>): DhcpConfig {
  return Value.Default(DhcpSection, structuredClone(fields)) as DhcpConfig;
}

export const testConfig: DhcpConfig = dhcpConfig({
  enabled: true,
  serverAddress: '10.213.7.1',
  subnet: '10.213.7.0/24',
  pool: { start: '10.213.7.100', end: '10.213.7.199' },
  router: '10.213.7.1',
  dns: ['10.213.7.1'],
  domain: 'lab.test',
  leaseTime: 3600,
  offerTimeout: 30,
  port: 67,
  clientPort: 68,
});

export const scriptUrl = (mac: string): string => `http://10.213.7.1/boot/${mac}.ipxe`;

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** A client request with sensible defaults: an Ethernet BOOTREQUEST, nothing but `options`. */
export function clientPacket(
  mac: string, options: DhcpOptions, fields: Partial<Omit<DhcpPacket, 'options'>> = {},
): DhcpPacket {
  return {
    op: BootOp.request,
    htype: 1,
    hops: 0,
    xid: 0x1234abcd,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macBytes(mac),
    sname: '',
    file: '',
    options,
    ...fields,
  };
}

/** What each firmware sends (FACTS.md "What each client sends"), minus message type. */
export const firmwareOptions = {
  ipxeBios: {
    clientArchitectures: [0],
    vendorClassId: 'PXEClient:Arch:00000:UNDI:002001',
    userClass: { format: 'raw', data: 'iPXE' },
  },
  ipxeEfi: {
    clientArchitectures: [7],
    vendorClassId: 'PXEClient:Arch:00007:UNDI:003010',
    userClass: { format: 'raw', data: 'iPXE' },
  },
  ovmfPxe: { clientArchitectures: [7], vendorClassId: 'PXEClient:Arch:00007:UNDI:003000' },
  ovmfHttp: { clientArchitectures: [16], vendorClassId: 'HTTPClient:Arch:00016:UNDI:003000' },
  seabiosPxe: { clientArchitectures: [0], vendorClassId: 'PXEClient:Arch:00000:UNDI:002001' },
  linux: { hostName: 'debian' },
} as const satisfies Record<string, DhcpOptions>;

export { BROADCAST_FLAG };
