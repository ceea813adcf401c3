// One appliance per data directory (probe F10): the lock refuses a second holder, naming the first,
// and is free again once its holder releases it or dies, even by SIGKILL.
import { afterEach, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lockDataDir } from '../../src/store/index.js';
import { DataDirLockedError } from '../../src/errors.js';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../support/fixtures.js';

const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

function dataDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return join(dir.path, 'data');
}

test('a second lock on the same data directory is refused, naming the holder; free after release', () => {
  const dir = dataDir();
  const first = lockDataDir(dir);
  expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
  expect(() => lockDataDir(dir)).toThrow(new RegExp(`in use by another netboot \\(pid ${process.pid}\\)`));
  first.release();
  lockDataDir(dir).release();
});

test('a lock whose holder was killed (SIGKILL) is free at once', async () => {
  const dir = dataDir();
  const module = pathToFileURL(join(packageRoot, 'dist', 'store', 'data-dir-lock.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `import { lockDataDir } from ${JSON.stringify(module)}; lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('locked')) resolve(); });
      child.once('exit', (code) => reject(new Error(`the holder exited early (${code})`)));
    });
    expect(() => lockDataDir(dir)).toThrow(new RegExp(`pid ${child.pid}\\b`));
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  lockDataDir(dir).release();
});
