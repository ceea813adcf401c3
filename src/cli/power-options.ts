// The power flags of `machines add` and `machines set`: `--power <driver>` (or the short forms
// `qemu:<socket>`, `ipmi:<address>`, `redfish:<address>`) plus one flag per setting, named after it
// (--address, --user, --cipher-suite, --system-id, --on-url, ...). Secrets need not be typed on the
// command line, where shell history and ps keep them: the password comes from --password-file or the
// NETBOOT_BMC_PASSWORD environment variable, webhook headers from --header-file.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ValidationError } from '../errors.js';
import { parsePowerSettings, powerDriverEntry, powerDrivers } from '../power/index.js';

export const passwordEnvVar = 'NETBOOT_BMC_PASSWORD';

export interface PowerFlags {
  readonly address?: string;
  readonly port?: string;
  readonly user?: string;
  readonly password?: string;
  readonly passwordFile?: string;
  readonly cipherSuite?: string;
  readonly privilege?: string;
  readonly systemId?: string;
  readonly verifyTls?: boolean;
  readonly caCert?: string;
  readonly onUrl?: string;
  readonly offUrl?: string;
  readonly statusUrl?: string;
  readonly onRegex?: string;
  readonly offRegex?: string;
  readonly header?: readonly string[];
  readonly headerFile?: string;
}

/** Flags that are a setting of the same name, as given. */
const plainSettings = ['address', 'port', 'user', 'cipherSuite', 'privilege', 'systemId', 'verifyTls', 'onUrl', 'offUrl', 'statusUrl', 'onRegex', 'offRegex'] as const;

/** `--cipher-suite` for cipherSuite, in messages. */
const flagName = (setting: string) => `--${setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function addPowerOptions(command: Command): Command {
  return command
    .option('--address <host>', 'BMC address (ipmi, redfish: host, host:port or https:// URL)')
    .option('--port <port>', 'BMC port (ipmi: UDP, default 623)')
    .option('--user <name>', 'BMC user (ipmi, redfish)')
    .option('--password-file <file>', 'BMC password: the first line of this file (keeps it out of shell history)')
    .option('--password <password>', `BMC password on the command line (visible in ps and history: prefer --password-file or $${passwordEnvVar})`)
    .option('--cipher-suite <id>', 'ipmi: RMCP+ cipher suite (default 3)')
    .option('--privilege <level>', 'ipmi: user | operator | administrator (default operator)')
    .option('--system-id <id>', 'redfish: member of /redfish/v1/Systems (default: the only one)')
    .option('--verify-tls', 'verify the TLS certificate against the system CAs (redfish: off by default)')
    .option('--no-verify-tls', 'do not verify TLS certificates (webhook: on by default)')
    .option('--ca-cert <file>', 'redfish, webhook: PEM of the CA to verify the certificate against')
    .option('--on-url <url>', 'webhook: POSTed to power on').option('--off-url <url>', 'webhook: POSTed to power off')
    .option('--status-url <url>', 'webhook: GET for the power state')
    .option('--on-regex <re>', 'webhook: the status answer means on (default status.*:.*running)')
    .option('--off-regex <re>', 'webhook: the status answer means off (default status.*:.*stopped)')
    .option('--header-file <file>', 'webhook: "Name: value" lines sent with every request (values are secrets)')
    .option('--header <line>', 'webhook: one "Name: value" header (visible in ps: prefer --header-file)', (line: string, all: string[] = []) => [...all, line]);
}

/** Whether any power setting flag was given (besides --power). */
export function hasPowerFlags(flags: PowerFlags): boolean {
  return [...plainSettings, 'password', 'passwordFile', 'caCert', 'header', 'headerFile'].some((k) => flags[k as keyof PowerFlags] !== undefined);
}

/** The power settings `--power <text>` and the other flags mean, checked; secrets never in an error. */
export function parsePowerOption(text: string, flags: PowerFlags = {}, env: Readonly<Record<string, string | undefined>> = {}): Record<string, unknown> {
  const base = powerDrivers.map((d) => d.parseCli(text)).find((s) => s !== undefined);
  if (!base) throw new ValidationError(`--power '${text}': use ${powerDrivers.map((d) => d.cliSyntax).join(' or ')}`);
  const type = String(base.type);
  const properties = powerDriverEntry(type)!.schema.properties as Record<string, { type?: string }>;
  const settings: Record<string, unknown> = { ...base };
  const set = (setting: string, value: unknown, flag = flagName(setting)) => {
    if (!(setting in properties)) throw new ValidationError(`${flag} does not apply to power type ${type}`);
    settings[setting] = properties[setting]?.type === 'integer' ? integer(flag, String(value)) : value;
  };
  for (const setting of plainSettings) if (flags[setting] !== undefined) set(setting, flags[setting]);
  if (flags.address !== undefined && base.address !== undefined) throw new ValidationError(`give the address in --power ${text} or --address, not both`);
  const password = flags.passwordFile !== undefined ? firstLine(flags.passwordFile) : flags.password ?? (('password' in properties) ? env[passwordEnvVar] : undefined);
  if (password !== undefined) set('password', password, flags.passwordFile !== undefined ? '--password-file' : '--password');
  if (flags.caCert !== undefined) set('caCert', readFileSync(flags.caCert, 'utf8'), '--ca-cert');
  const headerLines = [...flags.header ?? [], ...(flags.headerFile ? readFileSync(flags.headerFile, 'utf8').split('\n') : [])];
  if (headerLines.some((l) => l.trim() !== '')) set('headers', parseHeaders(headerLines), flags.headerFile ? '--header-file' : '--header');
  return parsePowerSettings(settings) as unknown as Record<string, unknown>;
}

function integer(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new ValidationError(`${flag} '${text}': a whole number`);
  return value;
}

/** A secret from a file: its first line, without the newline editors add (a stray CR broke RAKP: recipe 1.6). */
function firstLine(file: string): string {
  return (readFileSync(file, 'utf8').split('\n')[0] ?? '').replace(/\r$/, '');
}

/** `Name: value` lines (curl -H style); blank lines and # comments skipped. Values are never echoed. */
function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 1) throw new ValidationError(`header line ${JSON.stringify(line.slice(0, Math.max(colon, 0)) || '(no name)')}...: use "Name: value"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}
