// Config sources, lowest to highest precedence: YAML file < NETBOOT_* environment < flags (STYLE.md §8).
// Environment names are derived mechanically from the schema: dhcp.serverAddress -> NETBOOT_DHCP_SERVER_ADDRESS.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { Value } from '@sinclair/typebox/value';
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

FormatRegistry.Set('ipv4', (v) => /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(v));

type Plain = Record<string, unknown>;

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted paths to values, e.g. { 'http.port': 8080 }. */
  overrides?: Record<string, unknown>;
}

export function loadConfig(sources: ConfigSources): Readonly<Config> {
  const raw: Plain = sources.file ? readYaml(sources.file) : {};
  for (const [path, value] of envOverrides(sources.env ?? {})) setPath(raw, path, value);
  for (const [path, value] of Object.entries(sources.overrides ?? {})) setPath(raw, path.split('.'), value);
  return validateConfig(raw, sources.file ?? 'config');
}

export function validateConfig(raw: unknown, origin: string): Readonly<Config> {
  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, fillSections(raw)));
  const errors = [...Value.Errors(ConfigSchema, withDefaults)];
  if (errors.length > 0) {
    const lines = errors.slice(0, 10).map((e) => `  ${e.path || '/'}: ${e.message}${shown(e.path, e.value)}`);
    throw new ConfigError(`invalid configuration in ${origin}:\n${lines.join('\n')}`);
  }
  return deepFreeze(withDefaults as Config);
}

/**
 * Config fields that hold secrets (STYLE.md §17): an error never echoes their value (it would land in
 * a terminal or the journal) and says what a good one looks like.
 */
const secrets: Record<string, string> = {
  '/api/token': 'use a random string (e.g. `openssl rand -base64 32`), or leave api.token out to have one generated in <dataDir>/api-token',
};

function shown(path: string, value: unknown): string {
  const hint = secrets[path];
  if (hint !== undefined) return ` (value not shown: ${hint})`;
  return value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
}

function readYaml(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (cause) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must be a YAML mapping`);
  return doc as Plain;
}

/** Sections with only defaults may be omitted by the user; TypeBox fills defaults inside objects that exist. */
function fillSections(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const copy: Plain = { ...(raw as Plain) };
  for (const key of ['http', 'tftp', 'boot', 'api', 'lifecycle', 'images', 'cloudInit', 'events', 'bmc', 'ipv6RouterAdvert', 'power', 'log']) copy[key] ??= {};
  const boot = copy.boot;
  if (typeof boot === 'object' && boot !== null && !Array.isArray(boot)) copy.boot = { loaders: {}, ...(boot as Plain) };
  return copy;
}

/** Every leaf path of the schema with its env name. */
export function envNames(schema: TSchema = ConfigSchema, prefix: string[] = []): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const properties = (schema as { properties?: Record<string, TSchema> }).properties;
  if (!properties) {
    out.set(['NETBOOT', ...prefix.map(snake)].join('_'), prefix);
    return out;
  }
  for (const [key, child] of Object.entries(properties)) {
    for (const [name, path] of envNames(child, [...prefix, key])) out.set(name, path);
  }
  return out;
}

function envOverrides(env: NodeJS.ProcessEnv): Array<[string[], unknown]> {
  const result: Array<[string[], unknown]> = [];
  const known = envNames();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('NETBOOT_') || value === undefined) continue;
    const path = known.get(name);
    if (!path) continue; // NETBOOT_* variables of other tools (e.g. NETBOOT_CACHE_DIR) are not config.
    result.push([path, path.join('.') === 'dhcp.dns' ? value.split(',').filter(Boolean) : value]);
  }
  return result;
}

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function setPath(target: Plain, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Plain;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
