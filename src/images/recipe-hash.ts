// The hash of a recipe folder, recorded as recipeSha256 in the manifest and compared before a build
// to skip it. It must equal what images/<name>/build.sh computes with
//   find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum -- | sha256sum
// i.e. for every regular file (symlinks and what they point to are not followed, like find), sorted
// by relative path in byte order, the line "<sha256 hex>  <relative path>\n"; then the sha256 of all
// lines. A recipe that builds from another recipe's files lists those folders in a `uses` file (one
// path relative to the recipe per line, # comments): their lines follow, in the file's order, each
// path prefixed with "<folder>/" (images/micro/lib/recipe-hash.sh, the same in bash).
// test/images/recipe-hash.test.ts checks the TS and bash hashes agree on the real recipes.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors.js';

async function regularFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) out.push(...await regularFiles(root, path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export async function recipeSha256(recipeDir: string): Promise<string> {
  const all = createHash('sha256');
  await hashLines(recipeDir, '', all);
  const uses = await readFile(join(recipeDir, 'uses'), 'utf8').catch(() => '');
  for (const used of uses.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    await hashLines(join(recipeDir, used), `${used}/`, all).catch((err: unknown) => {
      throw new ImageError(`${join(recipeDir, 'uses')} names ${used}, which cannot be read: ${(err as Error).message}`, { cause: err });
    });
  }
  return all.digest('hex');
}

async function hashLines(recipeDir: string, prefix: string, all: ReturnType<typeof createHash>): Promise<void> {
  const files = await regularFiles(recipeDir);
  // sort(1) under LC_ALL=C compares bytes; JS string order compares UTF-16 units.
  files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const rel of files) {
    // sha256sum escapes such names ("\\" prefix), which this function does not reproduce.
    if (/[\\\n\r]/.test(rel)) {
      throw new ImageError(`recipe file name ${JSON.stringify(rel)} in ${recipeDir} contains a backslash or newline: rename it`);
    }
    const hex = createHash('sha256').update(await readFile(join(recipeDir, rel))).digest('hex');
    all.update(`${hex}  ${prefix}${rel}\n`);
  }
}
