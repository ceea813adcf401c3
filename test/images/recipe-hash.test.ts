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

  test('equals recipe-hash.sh on both real recipes; debian covers the micro files it uses', async () => {
    const script = join(repoRoot, 'images', 'micro', 'lib', 'recipe-hash.sh');
    for (const name of ['micro', 'debian']) {
      const dir = join(repoRoot, 'images', name);
      expect(await recipeSha256(dir), name).toBe(execFileSync('bash', [script, dir], { encoding: 'utf8' }).trim());
    }
    expect(await recipeSha256(join(repoRoot, 'images', 'micro'))).toBe(shellHash(join(repoRoot, 'images', 'micro')));
  });

  test('a uses file adds the files of the folders it names, and a change there changes the hash', async () => {
    mkdirSync(join(tmp.path, 'recipe'));
    mkdirSync(join(tmp.path, 'shared', 'sub'), { recursive: true });
    writeFileSync(join(tmp.path, 'recipe', 'build.sh'), 'echo');
    writeFileSync(join(tmp.path, 'recipe', 'uses'), '# shared files\n../shared\n');
    writeFileSync(join(tmp.path, 'shared', 'sub', 'init'), 'v1');
    const script = join(repoRoot, 'images', 'micro', 'lib', 'recipe-hash.sh');
    const bash = () => execFileSync('bash', [script, join(tmp.path, 'recipe')], { encoding: 'utf8' }).trim();
    const before = await recipeSha256(join(tmp.path, 'recipe'));
    expect(before).toBe(bash());
    writeFileSync(join(tmp.path, 'shared', 'sub', 'init'), 'v2');
    const after = await recipeSha256(join(tmp.path, 'recipe'));
    expect(after).not.toBe(before);
    expect(after).toBe(bash());
    writeFileSync(join(tmp.path, 'recipe', 'uses'), '../missing\n');
    await expect(recipeSha256(join(tmp.path, 'recipe'))).rejects.toThrow(ImageError);
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
