import { describe, expect, test } from 'vitest';
import { defaultCacheDir, defaultImagesDir } from '../../src/images/index.js';

describe('defaultImagesDir', () => {
  const cases: { name: string; env: NodeJS.ProcessEnv; want: string }[] = [
    { name: 'NETBOOT_CACHE_DIR wins', env: { NETBOOT_CACHE_DIR: '/srv/nb', XDG_CACHE_HOME: '/x' }, want: '/srv/nb/images' },
    { name: 'XDG_CACHE_HOME next', env: { XDG_CACHE_HOME: '/x/cache' }, want: '/x/cache/netboot/images' },
    { name: 'else ~/.cache', env: {}, want: '/home/op/.cache/netboot/images' },
    { name: 'empty values count as unset', env: { NETBOOT_CACHE_DIR: '', XDG_CACHE_HOME: '' }, want: '/home/op/.cache/netboot/images' },
  ];
  test.each(cases)('$name', ({ env, want }) => {
    expect(defaultImagesDir(env, '/home/op')).toBe(want);
  });

  test('the cache dir is its parent (build.sh keeps .debs beside it)', () => {
    expect(defaultCacheDir({ NETBOOT_CACHE_DIR: '/srv/nb' }, '/h')).toBe('/srv/nb');
  });
});
