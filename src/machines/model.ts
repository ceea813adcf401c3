import type { Inventory } from './inventory.js';
import type { BootPurpose, EventData, EventType } from './boot.js';

import type { MachineState } from './lifecycle.js';

/** Life-cycle states (MAAS): defined with the transition table in lifecycle.ts. */
export { machineStates, type MachineState } from './lifecycle.js';

export interface Machine {
  readonly id: string;
  readonly hostname: string;
  readonly state: MachineState;
  /** The MAC it boots from; null for a machine added by its BMC that has not enlisted yet. */
  readonly bootMac: string | null;
  readonly arch: string;
  readonly uuid: string | null;
  readonly inventory: Inventory | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** A locked machine refuses every state or power change until unlocked. */
  readonly locked: boolean;
  readonly notes: string;
  readonly zone: string;
  readonly pool: string;
  /** Power driver settings, validated by src/power (`{ type: 'manual' }` until the operator sets one). */
  readonly power: PowerSettingsValue;
  /** The power state last read from the driver, or 'error' when reading or switching failed. */
  readonly powerState: MachinePowerState;
  /** Why powerState is 'error' ('' otherwise): the driver's message, with what to do. */
  readonly powerError: string;
  /** When powerState was last read or set (Unix ms); null: never. */
  readonly powerCheckedAt: number | null;
  /** What the Booter serves at the next network boot; null: the default for the state. */
  readonly bootPurpose: BootPurpose | null;
  /** Secret of the current run, on the kernel command line; callbacks authenticate with it. */
  readonly token: string | null;
  /** The commissioning or testing run whose results are being collected. */
  readonly runId: number | null;
  readonly skipTests: boolean;
  /** Commissioned at least once (mark-fixed goes back to Ready only then). */
  readonly commissioned: boolean;
  readonly beforeRescue: MachineState | null;
  /** Why the machine is in its state (the failure reason, the broken note). */
  readonly statusMessage: string;
  /** The pending life-cycle timer and when it fires (Unix ms): survives restarts. */
  readonly timer: { readonly name: string; readonly deadline: number } | null;
  readonly tags: readonly string[];
  /** The operator's user-data (#cloud-config or a #! script; '' for none), checked when stored. */
  readonly userData: string;
  /** What the current or last deployment installs (set by `deploy`, kept while deployed); null: none. */
  readonly deployment: Deployment | null;
  /** How `release --erase` wipes the disks of the current erase (set with the release). */
  readonly eraseMode: EraseMode | null;
}

/** Where a deployment puts the OS: onto a disk (installer), or memory only (MAAS 3.5 ephemeral deployment). */
export type DeployTarget = 'disk' | 'memory';
export const eraseModes = ['quick', 'full', 'secure'] as const;
export type EraseMode = (typeof eraseModes)[number];

/** The operator's deploy options, stored with the machine (the installer and the seed read them). */
export interface Deployment {
  readonly target: DeployTarget;
  /** A disk image (target disk) or a cloud-init boot image (target memory). */
  readonly image: string;
  /** The disk the installer writes (`vda`, `nvme0n1`); absent: the first non-removable disk. */
  readonly disk?: string;
  /** Extra kernel arguments of the deployed system. */
  readonly kernelArgs?: string;
  /** SSH public keys installed for the deployed system's default user, besides the config's. */
  readonly sshKeys: readonly string[];
  /** The installer finished and the machine boots its disk (the rest of Deploying waits for cloud-init). */
  readonly installed?: boolean;
  /** When the deployment started (Unix ms): names the deployed system's cloud-init instance. */
  readonly startedAt: number;
}

/** What the appliance last learnt of a machine's power: the driver's answer, or that asking failed. */
export type MachinePowerState = 'on' | 'off' | 'unknown' | 'error';

export interface PowerSettingsValue {
  readonly type: string;
  readonly [setting: string]: unknown;
}

/** The machine's MACs: its NICs once an inventory names them, else its boot MAC (none for a machine added by its BMC). */
export function machineMacs(machine: Pick<Machine, 'inventory' | 'bootMac'>): string[] {
  return machine.inventory?.nics.map((n) => n.mac) ?? (machine.bootMac ? [machine.bootMac] : []);
}

export interface MachineEvent {
  readonly id: number;
  readonly at: number;
  readonly mac: string;
  readonly machineId: string | null;
  readonly type: EventType;
  readonly detail: string;
  /** Structured fields (bytes, ms, ...), when the event has any. */
  readonly data?: EventData;
}
