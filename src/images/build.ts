// Builds an image by running its recipe, `images/<name>/build.sh <imagesDir>/<name>`: the script
// is the real mechanism (it also runs by hand), this module only decides whether to run it, streams
// its progress and turns failures into ImageError. A build is skipped when the image on disk was
// made from the same recipe files (recipeSha256, see recipe-hash.ts), unless forced.
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ImageError } from '../errors.js';
import { IMAGE_NAME, loadImage } from './manifest.js';
import { recipeSha256 } from './recipe-hash.js';
import type { Image } from './types.js';

export interface BuildImageOptions {
  readonly name: string;
  /** Folder of built images; the image goes to `<imagesDir>/<name>`. */
  readonly imagesDir: string;
  /** The repository's `images/` folder (callers resolve it from the package root). */
  readonly recipesDir: string;
  /** Build even when the image on disk comes from the same recipe. */
  readonly force?: boolean;
  /** Each line the recipe prints on stdout ("[3/8] downloading packages ..."). */
  readonly onProgress?: (line: string) => void;
  /** Aborting kills the recipe's whole process group (apt-get, mksquashfs ...); the recipe's trap
   * removes its temporary folders. */
  readonly signal?: AbortSignal;
  /** Environment of the recipe (NETBOOT_CACHE_DIR, TMPDIR ...); default: inherited. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface BuildImageResult {
  readonly image: Image;
  readonly skipped: boolean;
  /** Wall-clock seconds this call took. */
  readonly seconds: number;
}

const STDERR_TAIL_LINES = 15;
const RECIPE_SCRIPT = 'build.sh';

/** Names of the recipes in recipesDir: folders with a build.sh. */
export async function listRecipes(recipesDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(recipesDir);
  } catch (err) {
    throw new ImageError(`cannot read the recipes folder ${recipesDir}: ${(err as Error).message}`, { cause: err });
  }
  const names: string[] = [];
  for (const name of entries.filter((n) => IMAGE_NAME.test(n)).sort()) {
    const isFile = await stat(join(recipesDir, name, RECIPE_SCRIPT)).then((s) => s.isFile(), () => false);
    if (isFile) names.push(name);
  }
  return names;
}

/** The image on disk if it is valid and was built from this recipe hash. */
function upToDate(imagesDir: string, name: string, hash: string, onProgress: (line: string) => void): Image | undefined {
  try {
    const image = loadImage(imagesDir, name);
    return image?.recipeSha256 === hash ? image : undefined;
  } catch (err) {
    // A broken or half-deleted image is what a build repairs: say so and rebuild.
    onProgress(`existing image is unusable, rebuilding: ${(err as Error).message}`);
    return undefined;
  }
}

/** An operator's imported root is not the recipe's to replace without being told to. */
function refuseImported(imagesDir: string, name: string): void {
  let image: Image | undefined;
  try {
    image = loadImage(imagesDir, name);
  } catch {
    return; // broken: a build repairs it (upToDate says so)
  }
  if (image?.kind === 'disk' && image.importedFrom !== undefined) {
    throw new ImageError(`image '${name}' was imported from ${image.importedFrom}, not built: `
      + `\`netboot images build ${name} --force\` replaces it with the recipe's build`);
  }
}

interface Exit { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stderr: string[] }

function runRecipe(script: string, outDir: string, opts: BuildImageOptions): Promise<Exit> {
  return new Promise((resolvePromise, reject) => {
    // detached: its own process group, so an abort reaches apt-get, dpkg-deb and mksquashfs too.
    const child = spawn('bash', [script, outDir], {
      cwd: dirname(script),
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stderr: string[] = [];
    const onAbort = (): void => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    createInterface({ input: child.stdout }).on('line', (line) => opts.onProgress?.(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr.push(line);
      if (stderr.length > STDERR_TAIL_LINES) stderr.shift();
    });
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ImageError(`cannot run ${script}: ${err.message}`, { cause: err }));
    });
    // 'close', not 'exit': all stdout/stderr lines have been read by then.
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolvePromise({ code, signal, stderr });
    });
  });
}

function cancelled(name: string, signal: AbortSignal): ImageError {
  return new ImageError(`building image '${name}' was cancelled`, { cause: signal.reason });
}

export async function buildImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 100) / 10;
  const { name, force = false } = opts;
  const onProgress = opts.onProgress ?? ((): void => {});
  const recipesDir = resolve(opts.recipesDir);
  const imagesDir = resolve(opts.imagesDir);

  const known = await listRecipes(recipesDir);
  if (!known.includes(name)) {
    throw new ImageError(`unknown image '${name}': known recipes are ${known.join(', ') || '(none)'} (in ${recipesDir})`);
  }
  const recipeDir = join(recipesDir, name);
  const hash = await recipeSha256(recipeDir);
  if (!force) {
    refuseImported(imagesDir, name);
    const image = upToDate(imagesDir, name, hash, onProgress);
    if (image) return { image, skipped: true, seconds: seconds() };
  }

  if (opts.signal?.aborted) throw cancelled(name, opts.signal);
  await mkdir(imagesDir, { recursive: true });
  const script = join(recipeDir, RECIPE_SCRIPT);
  const exit = await runRecipe(script, join(imagesDir, name), opts);
  if (opts.signal?.aborted) throw cancelled(name, opts.signal);
  if (exit.code !== 0) {
    const how = exit.code === null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    const tail = exit.stderr.length ? `; last lines of its output:\n${exit.stderr.join('\n')}` : '';
    throw new ImageError(`building image '${name}' failed (${script}, ${how})${tail}`);
  }

  const image = loadImage(imagesDir, name);
  if (!image) throw new ImageError(`${script} succeeded but wrote no ${join(imagesDir, name, 'manifest.json')}`);
  if (image.recipeSha256 !== hash) {
    // Either the recipe changed while it ran, or build.sh and recipe-hash.ts hash differently.
    throw new ImageError(`image '${name}' records recipeSha256 ${image.recipeSha256} but the recipe hashes to ${hash}: `
      + 'the recipe changed during the build, or its hash differs from src/images/recipe-hash.ts; build again');
  }
  return { image, skipped: false, seconds: seconds() };
}
