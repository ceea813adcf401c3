// One interface for every way of switching a machine on and off (ARCHITECTURE.md "power/"): QEMU's
// QMP for lab VMs, the operator's hands for machines without a power controller, and BMCs (IPMI,
// Redfish) or the operator's own HTTP endpoints (webhook).
export { PowerError } from '../errors.js';

/** What the driver can tell: 'unknown' when nothing can be asked (manual) or the answer is ambiguous. */
export type PowerState = 'on' | 'off' | 'unknown';

export type PowerAction = 'on' | 'off' | 'cycle';

/**
 * The machine's firmware, when the appliance knows it: the next network boot must start in the same
 * mode (a UEFI machine told to PXE boot in legacy mode boots nothing, or its CSM). Absent: unknown,
 * and the BMC's own default stands.
 */
export type BootFirmware = 'uefi' | 'bios';

export interface PowerDriver {
  readonly type: string;
  /** Powers the machine on from any off state; a no-op when it is already on. */
  on(): Promise<void>;
  /** Hard power off: the guest OS gets no say (no ACPI request it could ignore). */
  off(): Promise<void>;
  /** Off then on: the machine starts again from its firmware, whatever state it was in. */
  cycle(): Promise<void>;
  query(): Promise<PowerState>;
  /**
   * The ACPI power button (IPMI `chassis power soft`, Redfish GracefulShutdown): the OS decides
   * whether and when to shut down, so the power may stay on. Absent where there is no such button.
   */
  soft?(): Promise<void>;
  /**
   * Boot from the network at the next power-on only (IPMI `chassis bootdev pxe`, Redfish
   * BootSourceOverride Once/Pxe), as MAAS sets before every power-on: a machine whose firmware boots
   * its disk first still reaches the appliance, which then decides (the Booter may answer "local").
   * Absent where the boot order cannot be set (QEMU lab VMs boot the NIC first anyway; manual).
   * `firmware` picks the boot mode (IPMI boot flags EFI bit, Redfish BootSourceOverrideMode).
   */
  setNextBootNetwork?(firmware?: BootFirmware): Promise<void>;
  /**
   * The SMBIOS system UUID as the BMC reports it (Redfish ComputerSystem.UUID), lowercase; undefined
   * when the BMC reports none. A machine added by its BMC alone is then matched by it when it enlists
   * (src/machines/machine-adding.ts). Absent where the BMC cannot be asked (IPMI has no such read).
   */
  systemUuid?(): Promise<string | undefined>;
}
