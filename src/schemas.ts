// Schema primitives shared by every request schema and the config (STYLE.md §17; code review
// 2026-12 item 12: the MAC, hostname and id patterns were written three times each). Each one is
// closed and bounded, so a route that uses them cannot reopen the holes the 2026-12 probe found
// (security-probe-2026-12.md F3, F7, F8, F12).
import { Type, type ObjectOptions, type StringOptions, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

/**
 * Characters that must never reach an operator's terminal (probe F7: ESC sequences recolour the
 * screen or set the title, OSC 52 writes the clipboard, CR/LF fake lines in `machines show`, bidi
 * overrides reorder what is read): C0 controls, DEL, C1 controls, the bidi marks U+200E/U+200F, the
 * embeddings and overrides U+202A-U+202E and the isolates U+2066-U+2069. A regex class body, shared
 * with the CLI's escaping (src/cli/escape.ts) so the two never disagree.
 */
export const UNSAFE_TEXT_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';
export const SAFE_TEXT = new RegExp(`^[^${UNSAFE_TEXT_CLASS}]*$`, 'u');

/** Single-line text from an untrusted sender: bounded, and none of the characters above. */
export function SafeText(maxLength: number, options: StringOptions = {}) {
  return Type.String({ ...options, maxLength, pattern: SAFE_TEXT.source });
}

/** Any MAC in colon notation: a pattern other schemas compose (config CIDR-like fields, tests). */
export const MAC_PATTERN = '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$';

/**
 * A machine's own MAC, colon notation: unicast (low bit of the first octet clear, which also excludes
 * ff:ff:ff:ff:ff:ff) and not all-zero. Probe F12: broadcast, multicast and 00:00:.. enlisted as
 * machines; two machines with a zeroed NIC would also be merged by the MAC lookup of enlistment.
 */
export const MACHINE_MAC_PATTERN = '^(?!00(:00){5}$)[0-9a-fA-F][02468aAcCeE](:[0-9a-fA-F]{2}){5}$';
export const Mac = Type.String({ pattern: MACHINE_MAC_PATTERN, maxLength: 17, description: 'unicast MAC address aa:bb:cc:dd:ee:ff' });

/**
 * A MAC as an operator types it: colons, dashes or none (52-54-00-12-34-56, 525400123456). Shape
 * only: the domain (MachineService.add) refuses broadcast, multicast and all-zero with a message
 * that says which, where a pattern failure would only print this regex.
 */
export const MacInput = Type.String({ pattern: '^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$', maxLength: 17, description: 'MAC address, any notation' });

/** Why a normalised MAC (aa:bb:..) cannot be a machine's, or undefined: the clear message for a 400. */
export function machineMacProblem(mac: string): string | undefined {
  const first = Number.parseInt(mac.slice(0, 2), 16);
  if (mac.toLowerCase() === 'ff:ff:ff:ff:ff:ff') return `${mac} is the broadcast address, not a machine's MAC`;
  if ((first & 1) === 1) return `${mac} is a multicast address (low bit of the first octet set), not a machine's MAC`;
  if (/^00(:00){5}$/.test(mac)) return `${mac} is all zero, not a machine's MAC`;
  return undefined;
}

/** RFC 1123 host label, lower case: what machines are named (`nb-<id>` or the operator's choice). */
export const HOSTNAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
export const Hostname = Type.String({ pattern: HOSTNAME_PATTERN, maxLength: 63 });
/** The config's reservations have always taken either case (DHCP host names are case-blind). */
export const HostnameAnyCase = Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$', maxLength: 63 });

/** A machine in a URL: its id, hostname or MAC (src/machines/service.ts get()). */
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' });

/** A name in a catalogue (scripts, tags, zones, pools) as it appears in a URL. */
export const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });

/**
 * Standard base64 (RFC 4648 §4), at most 64 MiB of text: the results route's bodyLimit, stated here so
 * the bound is in the schema (probe F9, a smaller cap on stored output, is a separate change).
 */
export const Base64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 64 * 1024 * 1024 });

/**
 * A map whose keys match `keyPattern`, closed: a key that does not match is refused with a 400
 * instead of being let through unchecked with any value (probe F3: `Type.Record` compiles to
 * `patternProperties` alone, so `{"../../x": {"length": 1e8}}` passed and allocated 1.8 GB).
 */
export function ClosedRecord<V extends TSchema>(keyPattern: string, value: V, options: ObjectOptions & { maxProperties?: number } = {}) {
  return Type.Record(Type.String({ pattern: keyPattern }), value, { maxProperties: 256, ...options, additionalProperties: false });
}

/** An object schema that refuses unknown fields: the only kind of object a request schema uses. */
export function Closed<P extends TProperties>(properties: P, options: ObjectOptions = {}): TObject<P> {
  return Type.Object(properties, { ...options, additionalProperties: false });
}
