// Where built images live by default. Pure: callers pass process.env and os.homedir() (STYLE.md §8:
// no module reads process.env itself). images/micro/build.sh derives its .deb cache the same way
// ($NETBOOT_CACHE_DIR/debs), so one variable moves everything the recipes download or build.
import { join } from 'node:path';

/** `$NETBOOT_CACHE_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/netboot`. Empty values count as unset, like `${VAR:-default}` in sh. */
export function defaultCacheDir(env: NodeJS.ProcessEnv, home: string): string {
  if (env.NETBOOT_CACHE_DIR) return env.NETBOOT_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'netboot');
}

/** `<cache dir>/images`: one folder per image, each with a manifest.json. */
export function defaultImagesDir(env: NodeJS.ProcessEnv, home: string): string {
  return join(defaultCacheDir(env, home), 'images');
}
