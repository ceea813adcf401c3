// The built-in scripts shipped in commissioning/builtin, read from disk with their metadata headers.
// Which of them (and of the operators' own) a machine runs is the domain's choice:
// src/machines/scripts.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { SCRIPT_NAME, scriptKinds, type RunnableScript } from '../machines/scripts.js';
import type { ScriptKind } from '../store/index.js';

function isScriptKind(kind: string | undefined): kind is ScriptKind {
  return (scriptKinds as readonly string[]).includes(kind ?? '');
}

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
  if (!isScriptKind(kind)) throw new ValidationError(`${origin}: kind must be one of ${scriptKinds.join(', ')}, not '${kind ?? ''}'`);
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
