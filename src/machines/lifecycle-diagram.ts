// The life-cycle table drawn as a mermaid stateDiagram-v2 (STYLE.md §14, like pixiecore's bootgraph.dot).
// Drawn by asking transition() every question the table can be asked (every state, every event
// variant, every combination of the facts it reads), so the picture cannot drift from the code;
// docs/lifecycle.md embeds it and test/machines/lifecycle.test.ts keeps the two equal.
import { rescueOrigins, sampleEvents, transition } from './lifecycle-table.js';
import {
  lifecycleEventTypes, machineStates, type LifecycleEvent, type LifecycleEventType, type MachineFacts, type MachineState,
} from './lifecycle-types.js';

/** The yes/no conditions a move can depend on; an edge that needs one is labelled with it, e.g. `release [erase]`. */
const conditions = ['commissioned', 'skipTests', 'erase', 'installed'] as const;
type Condition = (typeof conditions)[number];
type Probe = { readonly facts: MachineFacts; readonly event: LifecycleEvent; readonly values: Partial<Record<Condition, boolean>> };

/**
 * The deployment facts: none; to disk, before and after the installer's run; in memory. `installed`
 * means the machine runs its own system (the installed disk, or a memory deployment).
 */
const deployments: readonly { readonly facts: Pick<MachineFacts, 'deployTarget' | 'installed'>; readonly installed?: boolean }[] = [
  { facts: {} },
  { facts: { deployTarget: 'disk', installed: false }, installed: false },
  { facts: { deployTarget: 'disk', installed: true }, installed: true },
  { facts: { deployTarget: 'memory', installed: false }, installed: true },
];

function* probes(state: MachineState): Generator<Probe> {
  for (const commissioned of [false, true]) {
    for (const skipTests of [false, true]) {
      // Where rescue began only picks Exiting rescue's target, which the edge already shows.
      for (const beforeRescue of [undefined, ...rescueOrigins]) {
        for (const deployed of deployments) {
          const facts: MachineFacts = { state, locked: false, commissioned, skipTests, ...(beforeRescue ? { beforeRescue } : {}), ...deployed.facts };
          const values = { commissioned, skipTests, ...(deployed.installed === undefined ? {} : { installed: deployed.installed }) };
          for (const type of lifecycleEventTypes) {
            if (type === 'release') {
              for (const erase of [false, true]) yield { facts, event: { type, erase }, values: { ...values, erase } };
            } else {
              yield { facts, event: sampleEvents[type], values };
            }
          }
        }
      }
    }
  }
}

/** Per move (from, event, to): the condition values it was seen with. */
interface Move {
  readonly from: MachineState;
  readonly to: MachineState;
  readonly event: LifecycleEventType;
  readonly seen: Map<Condition, Set<boolean>>;
}

function moves(): Move[] {
  const found = new Map<string, Move>();
  for (const from of machineStates) {
    for (const { facts, event, values } of probes(from)) {
      const t = transition(facts, event);
      if (!t.ok) continue;
      const key = `${from}\0${event.type}\0${t.state}`;
      const move = found.get(key) ?? { from, to: t.state, event: event.type, seen: new Map() };
      for (const c of conditions) {
        const v = values[c];
        if (v !== undefined) move.seen.set(c, (move.seen.get(c) ?? new Set()).add(v));
      }
      found.set(key, move);
    }
  }
  return [...found.values()];
}

/** `event`, or `event [cond]` / `event [!cond]` when the move happens only with one value of a condition. */
function label(move: Move): string {
  const guards = conditions.flatMap((c) => {
    const seen = move.seen.get(c);
    if (!seen || seen.size !== 1) return [];
    return [seen.has(true) ? c : `!${c}`];
  });
  return guards.length ? `${move.event} [${guards.join(', ')}]` : move.event;
}

const id = (state: MachineState) => state.split(' ').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
const order = (s: MachineState) => machineStates.indexOf(s);

/** mermaid stateDiagram-v2 text for the whole table: a line per state alias, then one edge per (from, to). */
export function renderDiagram(): string {
  const lines = ['stateDiagram-v2'];
  for (const state of machineStates) {
    if (id(state) !== state) lines.push(`  state "${state}" as ${id(state)}`);
  }
  // Enlistment creates machines in New; it is not a table event.
  lines.push('  [*] --> New: enlisted');
  const edges = new Map<string, { from: MachineState; to: MachineState; labels: string[] }>();
  const sorted = moves().sort((a, b) => order(a.from) - order(b.from) || order(a.to) - order(b.to)
    || lifecycleEventTypes.indexOf(a.event) - lifecycleEventTypes.indexOf(b.event));
  for (const move of sorted) {
    const key = `${move.from}\0${move.to}`;
    const edge = edges.get(key) ?? { from: move.from, to: move.to, labels: [] };
    edge.labels.push(label(move));
    edges.set(key, edge);
  }
  for (const edge of edges.values()) lines.push(`  ${id(edge.from)} --> ${id(edge.to)}: ${edge.labels.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
