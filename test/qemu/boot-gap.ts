// The wait between the DHCP ACK that gave iPXE its script URL and iPXE's request for the script
// (issue 17): iPXE's `ifconf` waits for IPv6 router discovery as well as DHCPv4, ~14 s when no
// Router Advertisement comes; with the appliance's RA (src/router-advert.ts) it is about a second.
import type { MachineEvent } from '../../src/machines/model.js';

/** Milliseconds from the last dhcp-ack before the first ipxe-script to that ipxe-script. */
export function ackToScriptMs(events: readonly MachineEvent[]): number {
  const script = events.findIndex((e) => e.type === 'ipxe-script');
  if (script < 0) throw new Error('no ipxe-script event on the timeline');
  const ack = events.slice(0, script).filter((e) => e.type === 'dhcp-ack').at(-1);
  if (!ack) throw new Error('no dhcp-ack before the ipxe-script event');
  return events[script]!.at - ack.at;
}

/** What the e2e tests assert: well under the ~15 s of a boot without the RA. */
export const maxAckToScriptMs = 5000;
