// What commissioning's BMC script (commissioning/builtin/30-bmc-config) reports in
// bmc-credentials.json: the BMC's LAN address and, when it created one, the user and password the
// appliance may power the machine with. The file holds a secret, so it is never stored with the
// script's result (src/machines/script-runs.ts takes it out) and every description of it leaves the
// password out (STYLE.md §17).
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** The name the script writes and the runner posts (runner file names keep [A-Za-z0-9._-] as they are). */
export const BMC_CREDENTIALS_FILE = 'bmc-credentials.json';

// Dotted quad, each octet 0-255: the script copies `ipmitool lan print`'s "IP Address" (0.0.0.0 when
// the BMC has none). A pattern rather than format 'ipv4', whose checker only the config registers.
const IPV4_PATTERN = '^(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}$';
const reported = {
  driver: Type.Literal('ipmi'),
  address: Type.String({ pattern: IPV4_PATTERN, maxLength: 15 }),
  /** The BMC's own NIC, lower case; "" when the BMC did not say. */
  mac: Type.String({ pattern: '^([0-9a-f]{2}(:[0-9a-f]{2}){5})?$', maxLength: 17 }),
  /** The IPMI LAN channel (IPMI 2.0 §6.3: 1-11 are implementation-specific channels). */
  channel: Type.Integer({ minimum: 1, maximum: 15 }),
};

export const BmcCredentialsSchema = Type.Union([
  Type.Object({
    ...reported,
    /** IPMI 2.0 user names are at most 16 bytes (§22.28). */
    user: Type.String({ pattern: '^[A-Za-z0-9._-]{1,16}$' }),
    /** IPMI 2.0 passwords are at most 20 bytes (§22.30); the script makes 16 letters and digits. */
    password: Type.String({ pattern: '^[\\x21-\\x7e]{1,20}$' }),
    created: Type.Literal(true),
  }, { additionalProperties: false }),
  Type.Object({ ...reported, created: Type.Literal(false) }, { additionalProperties: false }),
]);
export type BmcCredentials = Static<typeof BmcCredentialsSchema>;

/** The file's content as credentials, or why it is not. */
export function parseBmcCredentials(bytes: Buffer): { credentials: BmcCredentials } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: `${BMC_CREDENTIALS_FILE} is not JSON` };
  }
  if (!Value.Check(BmcCredentialsSchema, parsed)) {
    // A union's errors only say "expected one of"; the branch the file meant names the field.
    const branch = BmcCredentialsSchema.anyOf[(parsed as { created?: unknown } | null)?.created === true ? 0 : 1];
    const first = [...Value.Errors(branch, parsed)][0] ?? [...Value.Errors(BmcCredentialsSchema, parsed)][0];
    return { problem: `${BMC_CREDENTIALS_FILE} rejected (${first?.path || '/'} ${first?.message})` };
  }
  return { credentials: parsed };
}

/** One line for the timeline: what was found, never the password. */
export function describeBmcCredentials(c: BmcCredentials): string {
  const where = c.address === '0.0.0.0'
    ? `IPMI BMC without a LAN address (0.0.0.0) on channel ${c.channel}${c.mac ? `, MAC ${c.mac}` : ''}`
    : `IPMI BMC at ${c.address}${c.mac ? ` (MAC ${c.mac})` : ''}, LAN channel ${c.channel}`;
  return c.created ? `${where}; user ${c.user} set up as administrator` : `${where}; no user created`;
}
