// How long each iPXE boot waited between the DHCP ACK that gave it its script URL and its request for
// the script (issue 17): iPXE's `ifconf` waits for IPv6 router discovery too, ~14 s on a segment where
// no Router Advertisement comes (src/router-advert.ts ends that wait). The boot side's event sink is
// wrapped so the ipxe-script event carries it as `data.sinceAckMs`, which `machines show` and
// `machines watch` print after the event, so an operator sees it for every boot.
import type { EventSink, MachineEventInput } from './boot.js';
import { setMostRecent } from '../recent-map.js';

/** ACKs remembered at once; the oldest go first (a storm of unknown MACs cannot grow it). */
const MAX_MACS = 10_000;
/** An ACK older than this is another boot's. */
const MAX_GAP_MS = 120_000;

export class BootGapEvents implements EventSink {
  private readonly acks = new Map<string, number>();

  constructor(private readonly sink: EventSink, private readonly now: () => number = Date.now) {}

  record(event: MachineEventInput): void {
    if (event.type === 'dhcp-ack') {
      setMostRecent(this.acks, event.mac, this.now(), MAX_MACS);
    } else if (event.type === 'ipxe-script') {
      const ackAt = this.acks.get(event.mac);
      this.acks.delete(event.mac); // one gap per ACK: a retry script's next request is not another boot
      const gap = ackAt === undefined ? undefined : this.now() - ackAt;
      if (gap !== undefined && gap <= MAX_GAP_MS) {
        this.sink.record({ ...event, data: { ...event.data, sinceAckMs: gap } });
        return;
      }
    }
    this.sink.record(event);
  }
}
