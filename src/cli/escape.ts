// Text from the server reaches the operator's terminal (probe F7): an ESC sequence recolours the
// screen, OSC sets the title (OSC 52 writes the clipboard), CR/LF fake lines in `machines show`,
// bidi overrides reorder what is read. The schemas refuse these characters in new input; what is
// already stored, or comes from a field that takes any text, is shown with visible escapes here.
import { UNSAFE_TEXT_CLASS } from '../schemas.js';

const UNSAFE = new RegExp(`[${UNSAFE_TEXT_CLASS}]`, 'gu');
/** In multi-line text (script output, notes) LF and TAB stay: they do nothing worse than lay it out. */
const UNSAFE_MULTILINE = new RegExp(`(?![\\n\\t])[${UNSAFE_TEXT_CLASS}]`, 'gu');
/** JSON.stringify escapes C0 itself; DEL, C1 and bidi controls are left raw, so they get \u escapes. */
const UNSAFE_JSON = /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

function visible(char: string): string {
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of server text, safe to print: `\x1b`, `\x0d`, `\u202e`, ... instead of the controls. */
export function escapeText(text: string): string {
  return String(text).replace(UNSAFE, visible);
}

/** Text whose lines are meant (script output, notes): LF and TAB kept, CR and the rest escaped. */
export function escapeLines(text: string): string {
  return String(text).replace(UNSAFE_MULTILINE, visible);
}

/** `--json` output: the same values, with every control character written as a JSON \u escape. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_JSON, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
