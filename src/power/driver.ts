// One interface for every way of switching a machine on and off (ARCHITECTURE.md "power/"): QEMU's
// QMP for lab VMs, the operator's hands for machines without a power controller, BMCs later.
export { PowerError } from '../errors.js';

/** What the driver can tell: 'unknown' when nothing can be asked (manual) or the answer is ambiguous. */
export type PowerState = 'on' | 'off' | 'unknown';

export type PowerAction = 'on' | 'off' | 'cycle';

export interface PowerDriver {
  readonly type: string;
  /** Powers the machine on from any off state; a no-op when it is already on. */
  on(): Promise<void>;
  /** Hard power off: the guest OS gets no say (no ACPI request it could ignore). */
  off(): Promise<void>;
  /** Off then on: the machine starts again from its firmware, whatever state it was in. */
  cycle(): Promise<void>;
  query(): Promise<PowerState>;
}
