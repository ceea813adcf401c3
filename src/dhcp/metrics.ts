// What the DHCP and proxyDHCP servers count (src/metrics.ts), after smee's DHCP counters
// (internal/metric/metric.go: by message type, bumped in each handler). Labels from closed sets only:
// message types RFC 2132 names (anything else is `other`), and the policy's ignore codes.
import type { Counter, Metrics } from '../metrics.js';
import { MessageType } from './codec/index.js';

export interface DhcpCounters {
  /** Packets received, by message type: discover ... inform, `bootp` (no option 53), `other`, `malformed`. */
  readonly packets: Counter<'server' | 'type'>;
  /** Replies sent, by message type (offer, ack, nak). */
  readonly replies: Counter<'server' | 'type'>;
  /** Requests not answered, by the policy's code (respond.ts IgnoreCode, proxy.ts ProxyIgnoreCode, booter-failed). */
  readonly ignored: Counter<'server' | 'reason'>;
}

export function dhcpCounters(metrics: Metrics): DhcpCounters {
  return {
    packets: metrics.counter('netboot_dhcp_packets_total', 'DHCP packets received, by server (dhcp or proxy) and message type', ['server', 'type']),
    replies: metrics.counter('netboot_dhcp_replies_total', 'DHCP replies sent, by server and message type', ['server', 'type']),
    ignored: metrics.counter('netboot_dhcp_ignored_total', 'DHCP requests not answered, by server and reason', ['server', 'reason']),
  };
}

const typeLabels = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));

/** The `type` label of a message type: `discover` ... `inform`, `bootp` without option 53, else `other`. */
export function typeLabel(type: number | undefined): string {
  return type === undefined ? 'bootp' : typeLabels.get(type) ?? 'other';
}
