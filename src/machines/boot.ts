// The one decision point (ARCHITECTURE.md "One decision point: the Booter", after pixiecore's Booter).
// Firmware picks the *loader* (protocol layer); architecture + life-cycle state pick what boots.

/** How the client reached us; decided by src/dhcp/classify.ts from options 60, 77 and 93. */
export type Firmware = 'bios-pxe' | 'uefi-pxe' | 'uefi-http' | 'ipxe' | 'unknown';

/** RFC 4578 §2.1 client system architecture (option 93), normalised. */
export type Arch = 'x86' | 'x86_64-efi' | 'arm64-efi' | 'unknown';

export interface BootClient {
  /** Lower-case, colon separated: 52:54:00:12:34:56. */
  readonly mac: string;
  readonly arch: Arch;
  readonly firmware: Firmware;
  /** Option 97 (RFC 4578 §2.3), lower-case canonical UUID; absent when the client sent none or all zeros. */
  readonly uuid?: string;
}

export const bootPurposes = [
  'enlist', 'commission', 'test', 'deploy-memory', 'deploy-disk', 'erase', 'rescue', 'local', 'off', 'none',
] as const;
export type BootPurpose = (typeof bootPurposes)[number];

/** Boot a Linux kernel over HTTP (enlist, commission, deploy-memory, ...). */
export interface LinuxBootSpec {
  readonly purpose: Exclude<BootPurpose, 'local' | 'off' | 'none'>;
  /** Opaque file id served by src/http-boot at /files/<id>. */
  readonly kernel: string;
  readonly initrd: readonly string[];
  /** Complete kernel command line (URLs already absolute). */
  readonly cmdline: string;
  /** File id of the root image the initrd fetches, when there is one. */
  readonly rootfs?: string;
  /**
   * The run token the command line carries (callbacks, seed URL), when it carries one: such a spec
   * is a secret, rendered only for the machine's own address (src/machines/boot-auth.ts).
   */
  readonly runToken?: string;
}

/** Leave the network boot: boot from the local disk, power off, or answer nothing more than DHCP. */
export interface ExitBootSpec {
  readonly purpose: 'local' | 'off' | 'none';
  /**
   * local on UEFI: file id of localboot.efi, which finds the disk's \EFI\BOOT\BOOTX64.EFI and
   * chainloads it (iPXE `exit` on OVMF first tries every other network boot option: 247 s against
   * 0.5 s, recipes/deploy.md §4). Absent: `exit`.
   */
  readonly localbootEfi?: string;
}

export type BootSpec = LinuxBootSpec | ExitBootSpec;

export interface Booter {
  /** null: do not answer this client at all. Idempotent: DHCP, TFTP and HTTP each call it in one boot. */
  bootSpec(client: BootClient): Promise<BootSpec | null>;
}

/** What happened to a machine on the wire: the boot timeline users see (STYLE.md §9). */
export const eventTypes = [
  'dhcp-discover', 'dhcp-offer', 'dhcp-request', 'dhcp-ack', 'dhcp-nak', 'dhcp-release', 'dhcp-decline',
  'tftp-sent', 'tftp-failed', 'grub-config', 'ipxe-script', 'kernel', 'initrd', 'rootfs', 'file', 'enlisted', 're-enlisted', 'cloud-init',
  // the life-cycle (src/machines/service.ts) and the commissioning callbacks (src/enlist)
  'machine-added', 'state', 'note', 'power', 'power-failed', 'power-state', 'scripts', 'script-result', 'inventory', 'tag',
  // the boot side's refusals (src/machines/boot-auth.ts, src/machines/enlistment.ts)
  'token-refused', 'enlist-refused',
] as const;
export type EventType = (typeof eventTypes)[number];

/**
 * Structured fields of an event (code review 2026-12 item 9): numbers stay numbers (bytes, ms, the
 * start of a download) so the boot waterfall and scripts need not parse `detail`, which stays the
 * line a human reads.
 */
export type EventData = Readonly<Record<string, number | string>>;

export interface MachineEventInput {
  /** The MAC on the wire; '' for a machine that has none yet (added by its BMC, not enlisted). */
  readonly mac: string;
  /** The machine, when the recorder knows it: else the owner of `mac`, if any. */
  readonly machineId?: string;
  readonly type: EventType;
  readonly detail?: string;
  readonly data?: EventData;
}

/** An event about a known machine: its boot MAC (none yet: '') and its id, so it lands on its timeline either way. */
export function eventKey(machine: { readonly id: string; readonly bootMac: string | null }): { mac: string; machineId: string } {
  return { mac: machine.bootMac ?? '', machineId: machine.id };
}

export interface EventSink {
  record(event: MachineEventInput): void;
}

/** Normalise a MAC to lower-case colon form; returns null when it is not 6 octets. */
export function normaliseMac(raw: string): string | null {
  const hex = raw.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12 || !/^[0-9a-f:.-]+$/i.test(raw)) return null;
  return hex.match(/../g)!.join(':');
}
