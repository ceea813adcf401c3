// The scripts a machine runs in a phase: the built-in ones shipped in commissioning/builtin and the
// operators' own from the store, by name order (operators place theirs with a numeric prefix, as in
// MAAS), filtered by the machine's tags.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScriptKind, StoredScript } from '../store/index.js';
import { ValidationError } from '../errors.js';

export interface RunnableScript {
  readonly name: string;
  readonly kind: ScriptKind;
  readonly description: string;
  readonly timeoutSeconds: number;
  readonly parameters: Readonly<Record<string, string>>;
  readonly tags: readonly string[];
  readonly content: Buffer;
  readonly builtin: boolean;
}

/** Script names become file names in the bundle and in results: keep them plain. */
export const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Script parameter names: upper-case shell identifiers outside NETBOOT_ (the runner's own
 * variables). They are written as `NAME='value'` into the .env the runner sources, so a name like
 * `X=1 $(id) Y` would run on every commissioned machine (probe F8). The API refuses them
 * (src/api/catalogue-routes.ts) and bundle.ts checks again before it writes one.
 */
export const PARAMETER_NAME = /^(?!NETBOOT_)[A-Z_][A-Z0-9_]{0,63}$/;

const HEADER = /^# netboot-script:((?:\s+[a-z]+=\S+)+)\s*$/m;
const DESCRIPTION = /^# netboot-description:\s*(.+)$/m;

/**
 * Reads the metadata header of a built-in script:
 *   # netboot-script: name=00-inventory kind=commissioning timeout=120
 *   # netboot-description: Hardware inventory: CPU, memory, disks, NICs, DMI
 */
export function parseScriptHeader(text: string, origin: string): Omit<RunnableScript, 'content' | 'builtin' | 'parameters' | 'tags'> {
  const header = HEADER.exec(text);
  if (!header) throw new ValidationError(`${origin}: no '# netboot-script: name=... kind=... timeout=...' header`);
  const fields = Object.fromEntries(header[1]!.trim().split(/\s+/).map((pair) => pair.split('=', 2) as [string, string]));
  const { name, kind, timeout } = fields;
  if (!name || !SCRIPT_NAME.test(name)) throw new ValidationError(`${origin}: name '${name ?? ''}' must match ${SCRIPT_NAME.source}`);
  if (kind !== 'commissioning' && kind !== 'testing') throw new ValidationError(`${origin}: kind must be commissioning or testing, not '${kind ?? ''}'`);
  const timeoutSeconds = Number(timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new ValidationError(`${origin}: timeout must be whole seconds`);
  return { name, kind, timeoutSeconds, description: DESCRIPTION.exec(text)?.[1]?.trim() ?? '' };
}

export function loadBuiltinScripts(dir: string): RunnableScript[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  } catch {
    return []; // a checkout without built-in scripts still serves the operators' own
  }
  return files.map((file) => {
    const content = readFileSync(join(dir, file));
    return { ...parseScriptHeader(content.toString('utf8'), join(dir, file)), parameters: {}, tags: [], content, builtin: true };
  });
}

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

export function fromStored(script: StoredScript): RunnableScript {
  return { ...script, builtin: false };
}

/** The phase's scripts for a machine with these tags, in run order. */
export function scriptsForPhase(
  all: readonly RunnableScript[], phase: ScriptKind, machineTags: readonly string[],
): RunnableScript[] {
  return all
    .filter((s) => s.kind === phase && (s.tags.length === 0 || s.tags.some((t) => machineTags.includes(t))))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
