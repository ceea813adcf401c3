// The operator token: api.token from the config, else a random one kept in <dataDir>/api-token
// (created once, mode 0600) so that the CLI on the same host finds it.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';

export function tokenFile(dataDir: string): string {
  return join(dataDir, 'api-token');
}

export function operatorToken(config: Pick<Config, 'api' | 'dataDir'>): string {
  if (config.api.token) return config.api.token;
  const file = tokenFile(config.dataDir);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  // wx: two processes starting at once cannot both write a token; the loser reads the winner's.
  try {
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw err;
  }
  chmodSync(file, 0o600);
  return token;
}
