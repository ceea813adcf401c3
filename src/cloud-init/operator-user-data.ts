// The operator's own user-data for a machine: checked when it is stored, so what we later send is
// known to parse. Pure: the schema check by cloud-init itself is schema-check.ts.
import { load, YAMLException } from 'js-yaml';
import { ValidationError } from '../errors.js';

export type OperatorUserData =
  | { readonly kind: 'none' }
  | { readonly kind: 'cloud-config'; readonly text: string }
  | { readonly kind: 'script'; readonly text: string };

/** cloud-init keeps user-data in memory and on disk; 256 KiB is far above any real cloud-config. */
export const MAX_USER_DATA_BYTES = 256 * 1024;

/**
 * Classifies and checks user-data text: empty, `#cloud-config` (a YAML mapping) or a `#!` script.
 * Other cloud-init formats (#include, #cloud-boothook, MIME, gzip) are refused: our user-data is
 * already multipart and must stay inspectable. Throws ValidationError saying what is wrong and where.
 */
export function parseOperatorUserData(text: string): OperatorUserData {
  if (Buffer.byteLength(text) > MAX_USER_DATA_BYTES) {
    throw new ValidationError(`user-data is ${Buffer.byteLength(text)} bytes; at most ${MAX_USER_DATA_BYTES} are accepted`);
  }
  if (text.includes('\0')) throw new ValidationError('user-data contains a NUL byte: it must be text');
  const normalised = text.replace(/\r\n/g, '\n');
  if (normalised.trim() === '') return { kind: 'none' };
  const firstLine = normalised.split('\n', 1)[0]!.trimEnd();
  if (firstLine === '#cloud-config') {
    let value: unknown;
    try {
      value = load(normalised, { filename: 'user-data' });
    } catch (err) {
      const reason = err instanceof YAMLException ? `${err.reason} at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : String(err);
      throw new ValidationError(`user-data is not valid YAML: ${reason}`, { cause: err });
    }
    if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
      throw new ValidationError(`user-data after #cloud-config must be a YAML mapping (key: value), not ${Array.isArray(value) ? 'a list' : typeof value}`);
    }
    if (expandsPast(value, MAX_EXPANDED_NODES)) {
      throw new ValidationError(`user-data expands to more than ${MAX_EXPANDED_NODES} YAML nodes through its aliases (a "billion laughs" document): cloud-init on the machine would expand it`);
    }
    return { kind: 'cloud-config', text: withFinalNewline(normalised) };
  }
  if (firstLine.startsWith('#!')) return { kind: 'script', text: withFinalNewline(normalised) };
  throw new ValidationError(
    `user-data must start with "#cloud-config" or a "#!" script line, not ${JSON.stringify(firstLine.slice(0, 40))} (include files, boothooks and MIME archives are not accepted)`,
  );
}

/**
 * A YAML alias is a shared reference after js-yaml's load, so a 461-byte "billion laughs" document
 * (security probe) costs nothing here but would be expanded by cloud-init's PyYAML on the machine.
 * Counting nodes as an expansion would visit them, stopping at `limit`, bounds the walk itself.
 */
const MAX_EXPANDED_NODES = 100_000;

function expandsPast(value: unknown, limit: number): boolean {
  let seen = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (++seen > limit) return true;
    if (node !== null && typeof node === 'object') stack.push(...Object.values(node as object));
  }
  return false;
}

function withFinalNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
