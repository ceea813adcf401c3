// Loading the project's N-API addons (binding.gyp: udp_gso, icmp6_ra). Each feature that uses one
// has a fallback for when it is not built or does not load, and says why through `why`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * build/Release/<name>.node in the nearest directory above this module that has one: the checkout
 * for src/ and dist/, and also for a benchmark's build under node_modules/.cache.
 */
function addonPath(name: string): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

export function loadAddon<T>(name: string): { addon?: T; why?: string } {
  const path = addonPath(name);
  if (!path) return { why: `the ${name} addon is not built (npm run build makes build/Release/${name}.node)` };
  try {
    return { addon: createRequire(import.meta.url)(path) as T };
  } catch (err) {
    return { why: `the ${name} addon ${path} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
}
