// The scripts a machine runs in a phase (the domain's rule, code review 2026-12 item 7): the built-in
// ones shipped in commissioning/builtin (loaded by src/enlist/scripts.ts) and the operators' own from
// the store, by name order (operators place theirs with a numeric prefix, as in MAAS), filtered by
// the machine's tags. Deploy and release hooks will be a third phase kind selected the same way.
import type { ScriptBody, ScriptKind, Store, StoredScript } from '../store/index.js';

export interface RunnableScript extends ScriptBody {
  readonly name: string;
  readonly builtin: boolean;
}

/** Every phase a script can belong to (ScriptKind), for parsers and schemas. */
export const scriptKinds = ['commissioning', 'testing', 'deployment', 'erasing'] as const satisfies readonly ScriptKind[];

/** Script names become file names in the bundle and in results: keep them plain. */
export const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Script parameter names: upper-case shell identifiers outside NETBOOT_ (the runner's own
 * variables). They are written as `NAME='value'` into the .env the runner sources, so a name like
 * `X=1 $(id) Y` would run on every commissioned machine (probe F8). The API refuses them
 * (src/api/catalogue-routes.ts) and src/enlist/bundle.ts checks again before it writes one.
 */
export const PARAMETER_NAME = /^(?!NETBOOT_)[A-Z_][A-Z0-9_]{0,63}$/;

/**
 * Why a script cannot go into a bundle, or undefined. Names and values were not checked before the
 * 2026-12 probe (F8), so an older database can hold a parameter named `X=1 $(id) Y` or a number as a
 * value: such a script is left out of runs (MachineService.runScripts) instead of failing every
 * machine's bundle with a 500.
 */
export function scriptProblem(script: Pick<RunnableScript, 'parameters'>): string | undefined {
  for (const [key, value] of Object.entries(script.parameters)) {
    if (!PARAMETER_NAME.test(key)) return `parameter name ${JSON.stringify(key)} does not match ${PARAMETER_NAME.source}`;
    if (typeof value !== 'string') return `parameter ${key} is not text`;
  }
  return undefined;
}

/** The phase's scripts for a machine with these tags, in run order. */
export function scriptsForPhase(
  all: readonly RunnableScript[], phase: ScriptKind, machineTags: readonly string[],
): RunnableScript[] {
  return all
    .filter((s) => s.kind === phase && (s.tags.length === 0 || s.tags.some((t) => machineTags.includes(t))))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function fromStored(script: StoredScript): RunnableScript {
  const { createdAt: _createdAt, ...fields } = script;
  return { ...fields, builtin: false };
}

/** Built-in and uploaded scripts together: what the API lists and what a run is chosen from. */
export class ScriptCatalogue {
  private readonly shipped: readonly RunnableScript[];

  constructor(private readonly store: Pick<Store, 'scripts'>, builtins: readonly RunnableScript[]) {
    this.shipped = [...builtins].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The built-in scripts of every phase, by name. */
  builtins(): readonly RunnableScript[] {
    return this.shipped;
  }

  /** The operators' scripts, by name. */
  uploaded(): RunnableScript[] {
    return this.store.scripts.list().map(fromStored);
  }

  /** A phase's scripts for a machine with these tags, in run order; unsafe ones included (see scriptProblem). */
  forPhase(phase: ScriptKind, machineTags: readonly string[]): RunnableScript[] {
    return scriptsForPhase([...this.shipped, ...this.uploaded()], phase, machineTags);
  }
}
