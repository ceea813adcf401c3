// A TFTP transfer as the machine's timeline keeps it (STYLE.md §9): the line a human reads, and the
// numbers as numbers (code review 2026-12 item 9) so the boot waterfall need not parse the line.
import type { MachineEventInput } from '../machines/boot.js';
import { ErrorCode } from './codec/index.js';
import type { TftpTransferEvent } from './server.js';

/** The timeline event of a transfer to `mac`; null for the tsize probe, which is no failure worth an entry. */
export function tftpTimelineEvent(event: TftpTransferEvent, mac: string): MachineEventInput | null {
  // ERROR 8 after our OACK is the PXE/OVMF tsize probe (FACTS.md).
  if (event.clientErrorCode === ErrorCode.optionsRefused) return null;
  return {
    mac,
    type: event.kind === 'sent' ? 'tftp-sent' : 'tftp-failed',
    detail: `${event.name} ${event.bytes} B in ${event.ms} ms`,
    data: {
      name: event.name, bytes: event.bytes, ms: event.ms, outcome: event.kind,
      ...(event.kind === 'sent' ? {} : { reason: event.reason }),
    },
  };
}
