import { homedir } from 'node:os';
import pino, { type Logger } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { defaultImagesDir } from '../images/index.js';

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  logLevel?: string;
}

/** The one place the CLI reads process.env: it is handed to the config loader and nowhere else. */
export function resolveConfig(options: GlobalOptions, extra: Record<string, unknown> = {}): Readonly<Config> {
  const overrides: Record<string, unknown> = { ...extra };
  if (options.dataDir) overrides.dataDir = options.dataDir;
  if (options.logLevel) overrides['log.level'] = options.logLevel;
  return loadConfig({ file: options.config, env: process.env, overrides });
}

/** The environment, for the few settings that may come from it instead of a flag (NETBOOT_BMC_PASSWORD). */
export function cliEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

export function imagesDirOf(config: Readonly<Config>): string {
  return config.images.dir ?? defaultImagesDir(process.env, homedir());
}

export function createLogger(config: Readonly<Config>): Logger {
  return pino({ level: config.log.level, base: { pid: process.pid } });
}
