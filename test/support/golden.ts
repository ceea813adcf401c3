import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { packageRoot } from '../../src/paths.js';

/** Compares text with a committed golden file; UPDATE_GOLDEN=1 rewrites it (STYLE.md §10). */
export function expectGolden(relativePath: string, actual: string): void {
  const path = join(packageRoot, relativePath);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI && !existsSync(path)) throw new Error(`golden file ${relativePath} is missing; run with UPDATE_GOLDEN=1 and commit it`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
