import type { Inventory } from './inventory.js';
import type { EventType } from './boot.js';

/** Life-cycle states (MAAS). Only New is reached in this slice; the transition table comes with commissioning. */
export const machineStates = [
  'New', 'Commissioning', 'Testing', 'Ready', 'Allocated', 'Deploying', 'Deployed', 'Releasing',
  'Rescue', 'Broken', 'Failed commissioning', 'Failed testing', 'Failed deployment', 'Failed releasing',
] as const;
export type MachineState = (typeof machineStates)[number];

export interface Machine {
  readonly id: string;
  readonly hostname: string;
  readonly state: MachineState;
  readonly bootMac: string;
  readonly arch: string;
  readonly uuid: string | null;
  readonly inventory: Inventory | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface MachineEvent {
  readonly id: number;
  readonly at: number;
  readonly mac: string;
  readonly machineId: string | null;
  readonly type: EventType;
  readonly detail: string;
}
