// Allocation by constraints (MAAS `machines allocate`): the operator asks for what a workload needs and
// gets one Ready, unlocked machine that has it, or a refusal that names the constraint nothing met.
// Pure: the service applies the table's `allocate` event to the machine chosen here.
import type { Machine } from './model.js';

export interface AllocationConstraints {
  /** A machine by id, hostname or MAC (it must still meet the rest). */
  readonly name?: string;
  readonly arch?: string;
  readonly zone?: string;
  readonly pool?: string;
  /** Every one of these tags. */
  readonly tags?: readonly string[];
  /** At least this many CPUs. */
  readonly cpu?: number;
  /** At least this much memory, MiB (MAAS's unit). */
  readonly memoryMiB?: number;
  /** At least one disk of this size, GiB: deployment writes the image onto one disk. */
  readonly diskGiB?: number;
}

export type Allocation = { readonly ok: true; readonly machine: Machine } | { readonly ok: false; readonly reason: string };

interface Constraint {
  readonly says: string;
  readonly holds: (m: Machine) => boolean;
}

const mib = 2 ** 20;
const gib = 2 ** 30;

/** The constraints given, in the order a refusal explains them (the cheap, coarse ones first). */
function constraintsOf(c: AllocationConstraints): Constraint[] {
  const list: Constraint[] = [];
  if (c.arch !== undefined) list.push({ says: `arch ${c.arch}`, holds: (m) => m.arch === c.arch || m.inventory?.arch === c.arch });
  if (c.zone !== undefined) list.push({ says: `zone ${c.zone}`, holds: (m) => m.zone === c.zone });
  if (c.pool !== undefined) list.push({ says: `pool ${c.pool}`, holds: (m) => m.pool === c.pool });
  for (const tag of c.tags ?? []) list.push({ says: `tag ${tag}`, holds: (m) => m.tags.includes(tag) });
  if (c.cpu !== undefined) list.push({ says: `at least ${c.cpu} CPUs`, holds: (m) => (m.inventory?.cpu.count ?? 0) >= c.cpu! });
  if (c.memoryMiB !== undefined) {
    list.push({ says: `at least ${c.memoryMiB} MiB of memory`, holds: (m) => (m.inventory?.memoryBytes ?? 0) / mib >= c.memoryMiB! });
  }
  if (c.diskGiB !== undefined) {
    list.push({ says: `a disk of at least ${c.diskGiB} GiB`, holds: (m) => (m.inventory?.disks ?? []).some((d) => d.sizeBytes / gib >= c.diskGiB!) });
  }
  return list;
}

/**
 * The machine to allocate: among Ready, unlocked machines meeting every constraint, the smallest
 * (fewest CPUs, then least memory, then the oldest), so a large machine stays free for a large
 * request. Otherwise why not: no machine is Ready, or the first constraint that left none.
 */
export function chooseMachine(machines: readonly Machine[], c: AllocationConstraints, named?: Machine): Allocation {
  let candidates = named ? [named] : machines.filter((m) => m.state === 'Ready' && !m.locked);
  if (named) {
    if (named.state !== 'Ready') return { ok: false, reason: `machine ${named.id} is ${named.state}, not Ready` };
    if (named.locked) return { ok: false, reason: `machine ${named.id} is locked` };
  } else if (candidates.length === 0) {
    const ready = machines.filter((m) => m.state === 'Ready').length;
    return { ok: false, reason: ready === 0 ? 'no machine is Ready (commission one first)' : `all ${ready} Ready machines are locked` };
  }
  for (const constraint of constraintsOf(c)) {
    const left = candidates.filter(constraint.holds);
    if (left.length === 0) {
      const of = named ? `machine ${named.id} does not have` : `none of the ${candidates.length} available machines has`;
      return { ok: false, reason: `${of} ${constraint.says}` };
    }
    candidates = left;
  }
  const size = (m: Machine) => [m.inventory?.cpu.count ?? 0, m.inventory?.memoryBytes ?? 0, m.createdAt];
  const [best] = [...candidates].sort((a, b) => {
    const [x, y] = [size(a), size(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]! || a.id.localeCompare(b.id);
  });
  return { ok: true, machine: best! };
}
