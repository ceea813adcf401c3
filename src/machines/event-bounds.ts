// What the boot side may write to the timeline. Every event it records is caused by a host on the
// untrusted boot network, so the writes are bounded (probe F4: 2,000 downloads with a long Range header
// wrote 24 MB of events in 3 s): details are cleaned and capped, each MAC has a token bucket, and the
// events that do not come at DHCP rate share one more. The life-cycle's own events (state, power,
// notes) never pass through here and are never dropped.
import type { Logger } from 'pino';
import type { EventData, EventSink, MachineEventInput } from './boot.js';
import { UNSAFE_TEXT_CLASS } from '../schemas.js';
import { setMostRecent } from '../recent-map.js';

export interface Bucket { readonly burst: number; readonly perSecond: number }

export interface EventBoundsOptions {
  /** Per MAC: a booting machine records a few dozen events; a DHCP client retrying every second, one a second. */
  readonly perMac?: Bucket;
  /** All non-DHCP events together (DHCP packet events are pruned after dhcpRetentionDays instead). */
  readonly boot?: Bucket;
  /** MACs whose buckets are remembered; the least recently seen are forgotten first. */
  readonly maxMacs?: number;
  readonly maxDetail?: number;
  /** Fields of an event's data kept; the rest are dropped. */
  readonly maxDataKeys?: number;
  readonly log?: Logger;
  readonly now?: () => number;
}

interface Level { tokens: number; at: number }

/** The characters the schemas refuse and the CLI escapes (src/schemas.ts, probe F7): one definition. */
const UNPRINTABLE = new RegExp(`[${UNSAFE_TEXT_CLASS}]`, 'gu');

/** A detail as the timeline keeps it: one line, printable, at most `max` characters. */
export function cleanDetail(detail: string | undefined, max = 500): string {
  if (!detail) return '';
  const clean = detail.replace(UNPRINTABLE, '\ufffd');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A data key as the timeline keeps it: a short identifier (the boot side's keys are ours, not the client's). */
const DATA_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * Event data as the timeline keeps it: at most `maxKeys` fields with identifier keys, finite numbers,
 * and strings cleaned and capped like details (a Range header or a file name can come from the client).
 */
export function cleanData(data: EventData | undefined, maxKeys = 16, maxString = 500): EventData | undefined {
  if (!data) return undefined;
  const kept: Record<string, number | string> = {};
  let count = 0;
  for (const [key, value] of Object.entries(data)) {
    if (count >= maxKeys) break;
    if (!DATA_KEY.test(key)) continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) continue;
      kept[key] = value;
    } else if (typeof value === 'string') {
      kept[key] = cleanDetail(value, maxString);
    } else {
      continue;
    }
    count++;
  }
  return count > 0 ? kept : undefined;
}

export class BoundedEvents implements EventSink {
  private readonly perMac: Bucket;
  private readonly boot: Bucket;
  private readonly maxMacs: number;
  private readonly now: () => number;
  private readonly levels = new Map<string, Level>();
  private readonly bootLevel: Level;
  private dropped = 0;
  private lastReport = 0;

  constructor(private readonly sink: EventSink, private readonly options: EventBoundsOptions = {}) {
    this.perMac = options.perMac ?? { burst: 300, perSecond: 5 };
    this.boot = options.boot ?? { burst: 2000, perSecond: 200 };
    this.maxMacs = options.maxMacs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.bootLevel = { tokens: this.boot.burst, at: this.now() };
  }

  /** Events dropped since start. */
  get droppedCount(): number {
    return this.dropped;
  }

  record(event: MachineEventInput): void {
    const at = this.now();
    const dhcp = event.type.startsWith('dhcp-');
    if (!this.take(this.macLevel(event.mac, at), this.perMac, at) || (!dhcp && !this.take(this.bootLevel, this.boot, at))) {
      this.dropped++;
      this.report(event.mac, at);
      return;
    }
    const data = cleanData(event.data, this.options.maxDataKeys, this.options.maxDetail);
    this.sink.record({ mac: event.mac, type: event.type, detail: cleanDetail(event.detail, this.options.maxDetail), ...(data ? { data } : {}) });
  }

  private macLevel(mac: string, at: number): Level {
    const level = this.levels.get(mac) ?? { tokens: this.perMac.burst, at };
    setMostRecent(this.levels, mac, level, this.maxMacs);
    return level;
  }

  private take(level: Level, bucket: Bucket, at: number): boolean {
    level.tokens = Math.min(bucket.burst, level.tokens + ((at - level.at) / 1000) * bucket.perSecond);
    level.at = at;
    if (level.tokens < 1) return false;
    level.tokens -= 1;
    return true;
  }

  /** At most one warning a minute, so the bound on events is not undone by the log. */
  private report(mac: string, at: number): void {
    if (at - this.lastReport < 60_000) return;
    this.lastReport = at;
    this.options.log?.warn({ mac, dropped: this.dropped }, 'boot-side events over the rate bound were dropped (a client on the boot network is flooding)');
  }
}
