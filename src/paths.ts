import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root: this file sits one level below it both as src/paths.ts and as dist/paths.js. */
export const packageRoot = fileURLToPath(new URL('../', import.meta.url));
export const recipesDir = join(packageRoot, 'images');
export const cliEntry = join(packageRoot, 'dist', 'cli', 'main.js');
export const builtinScriptsDir = join(packageRoot, 'commissioning', 'builtin');
/** The installer and the disk eraser: built-in scripts of the deployment and erasing phases. */
export const deployScriptsDir = join(packageRoot, 'deploy', 'builtin');
