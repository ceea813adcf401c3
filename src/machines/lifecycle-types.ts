// The life-cycle's vocabulary (see lifecycle.ts, the public surface): states, events, effects and the
// facts the table reads. Declarations only.
import type { BootPurpose } from './boot.js';
import type { DeployTarget } from './model.js';

export const machineStates = [
  'New', 'Commissioning', 'Testing', 'Ready', 'Allocated', 'Deploying', 'Deployed', 'Releasing',
  'Disk erasing', 'Entering rescue', 'Rescue', 'Exiting rescue', 'Broken',
  'Failed commissioning', 'Failed testing', 'Failed deployment', 'Failed releasing',
  'Failed disk erasing', 'Failed entering rescue', 'Failed exiting rescue',
] as const;
export type MachineState = (typeof machineStates)[number];

export type LifecycleEvent =
  // operator actions
  | { type: 'commission'; skipTests?: boolean }
  | { type: 'test' }
  | { type: 'abort' }
  | { type: 'mark-broken'; reason: string }
  | { type: 'mark-fixed' }
  | { type: 'allocate' }
  | { type: 'deploy'; target?: DeployTarget }
  | { type: 'release'; erase?: boolean }
  | { type: 'rescue' }
  | { type: 'exit-rescue' }
  // callbacks from the machine (the ephemeral environment's runner; in Deploying after the install,
  // and in a memory deployment or rescue mode, cloud-init's last stage); for the two phases that only
  // wait for a power-off (Releasing, Exiting rescue) the service sends phase-passed once it has
  // carried out their confirm-power effect
  | { type: 'phase-passed' }
  | { type: 'phase-failed'; reason: string }
  // timers
  | { type: 'timeout' };
export type LifecycleEventType = LifecycleEvent['type'];

/** Events an operator sends (API, CLI); a locked machine refuses all of them. */
export const operatorEventTypes = [
  'commission', 'test', 'abort', 'mark-broken', 'mark-fixed', 'allocate', 'deploy', 'release', 'rescue', 'exit-rescue',
] as const satisfies readonly LifecycleEventType[];
/** Events the machine or a timer sends; accepted whether or not the machine is locked. */
export const systemEventTypes = ['phase-passed', 'phase-failed', 'timeout'] as const satisfies readonly LifecycleEventType[];
export const lifecycleEventTypes = [...operatorEventTypes, ...systemEventTypes] as const;
// Compile-time check that the two lists name every event type.
const _everyEventListed: [Exclude<LifecycleEventType, (typeof lifecycleEventTypes)[number]>] extends [never] ? true : false = true;

export type TimerName = 'commissioning' | 'testing' | 'deploying' | 'releasing' | 'erasing' | 'rescue';

/** Listed in the order the service carries them out: token before the boot purpose that carries it, power last but the timer. */
export type Effect =
  | { kind: 'power'; action: 'on' | 'off' | 'cycle' } // cycle: a machine that is off is powered on
  // The phase passes once the driver reads this power state (after the power action; the phase's
  // timer fails it if it never does). A driver that cannot tell (manual) passes at once, with a note.
  | { kind: 'confirm-power'; state: 'off' }
  | { kind: 'boot-purpose'; purpose: BootPurpose }  // what the Booter serves at the next netboot
  | { kind: 'start-timer'; timer: TimerName }      // a machine has one timer: starting one replaces the running one
  | { kind: 'cancel-timer' }
  | { kind: 'rotate-token' }                        // a fresh per-run callback token (the old one stops working)
  | { kind: 'start-run'; phase: RunPhase; skipTestsAfter?: boolean } // a new script run whose results are kept
  | { kind: 'note'; message: string };              // recorded on the machine's timeline

/** Phases whose scripts the runner runs and whose results are kept (src/machines/script-runs.ts). */
export type RunPhase = 'commissioning' | 'testing' | 'deployment' | 'erasing';

export interface MachineFacts {
  readonly state: MachineState;
  readonly locked: boolean;
  /** The current commissioning run's option (from the `commission` event that started it). */
  readonly skipTests?: boolean;
  /**
   * Commissioning has passed at least once (set when Commissioning ends with phase-passed; nothing
   * clears it). Decides whether mark-fixed returns to Ready or New, and whether a machine outside
   * Ready may be tested (tests need the inventory a passed commissioning run gathered).
   */
  readonly commissioned?: boolean;
  /**
   * The state rescue mode was entered from, where Exiting rescue returns to. Recorded when `rescue` is
   * accepted from a state outside rescue mode, kept while the machine stays in rescue mode's states
   * (a retry from Failed entering rescue keeps the original). factsAfter() does this bookkeeping.
   */
  readonly beforeRescue?: MachineState;
  /** Where the current deployment puts the OS; set by `deploy`, kept while the machine is deployed. */
  readonly deployTarget?: DeployTarget;
  /** Deploying to disk: the installer has finished and the machine boots its disk. */
  readonly installed?: boolean;
}

export type Transition =
  | { readonly ok: true; readonly state: MachineState; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly reason: string };

export type OperatorEventType = (typeof operatorEventTypes)[number];
export type EventOf<T extends LifecycleEventType> = Extract<LifecycleEvent, { type: T }>;
