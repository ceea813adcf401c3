// recipeSha256 must equal the hash build.sh writes into the manifest, or every build would be
// followed by "records recipeSha256 ... but the recipe hashes to ...". Compared against the same
// pipeline the recipes run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ImageError } from '../../src/errors.js';
import { recipeSha256 } from '../../src/images/index.js';
import { tempDir } from './fixtures.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PIPELINE = "find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sha256sum | cut -d' ' -f1";
const shellHash = (dir: string): string => execFileSync('bash', ['-c', PIPELINE], { cwd: dir, encoding: 'utf8' }).trim();

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => { tmp = tempDir('recipe-hash'); });
afterEach(() => tmp.remove());

describe('recipeSha256', () => {
  test('equals the shell pipeline on the real micro recipe', async () => {
    const micro = join(repoRoot, 'images', 'micro');
    expect(await recipeSha256(micro)).toBe(shellHash(micro));
  });

  test('sorts by bytes like LC_ALL=C sort, recurses, and skips symlinks like find -type f', async () => {
    // "c-d" < "c/b" in bytes ('-' 0x2d < '/' 0x2f); "B" < "_z" < "a" < "é".
    for (const name of ['B', 'a', 'c-d', 'c.d', 'é', '_z']) writeFileSync(join(tmp.path, name), name);
    mkdirSync(join(tmp.path, 'c', 'deeper'), { recursive: true });
    writeFileSync(join(tmp.path, 'c', 'b'), 'nested');
    writeFileSync(join(tmp.path, 'c', 'deeper', 'e'), '');
    symlinkSync('B', join(tmp.path, 'link'));
    expect(await recipeSha256(tmp.path)).toBe(shellHash(tmp.path));
  });

  test('changes when a file is renamed, not only when content changes', async () => {
    writeFileSync(join(tmp.path, 'x'), 'same');
    const before = await recipeSha256(tmp.path);
    execFileSync('mv', [join(tmp.path, 'x'), join(tmp.path, 'y')]);
    expect(await recipeSha256(tmp.path)).not.toBe(before);
  });

  test('refuses names sha256sum would escape', async () => {
    writeFileSync(join(tmp.path, 'back\\slash'), '');
    await expect(recipeSha256(tmp.path)).rejects.toThrow(ImageError);
  });
});
