// The transfer workers' file cache (file-cache.ts): its bound, sharing of one load, and invalidation
// by file identity.
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { FileCache } from '../../src/tftp/file-cache.js';

const file = (key: string, version = 'v1') => ({ key, version });

describe('FileCache', () => {
  test('one load serves every transfer of the same version', async () => {
    const cache = new FileCache(100);
    let loads = 0;
    const load = () => {
      loads++;
      return Promise.resolve(Buffer.alloc(10, 1));
    };
    const [a, b] = await Promise.all([cache.get(file('k'), 10, load), cache.get(file('k'), 10, load)]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 10, hits: 1, misses: 1 });
  });

  test('a new version of the same file is loaded again and replaces the old bytes', async () => {
    const cache = new FileCache(100);
    await cache.get(file('k', 'v1'), 10, () => Promise.resolve(Buffer.alloc(10, 1)));
    const fresh = await cache.get(file('k', 'v2'), 20, () => Promise.resolve(Buffer.alloc(20, 2)));
    expect(fresh?.[0]).toBe(2);
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 20, misses: 2 });
  });

  test('the bound holds: least recently used files go first, larger files are not cached', async () => {
    const cache = new FileCache(30);
    const load = (n: number) => () => Promise.resolve(Buffer.alloc(n));
    await cache.get(file('a'), 10, load(10));
    await cache.get(file('b'), 10, load(10));
    await cache.get(file('a'), 10, load(10)); // a is now the most recent
    await cache.get(file('c'), 15, load(15)); // evicts b
    expect(cache.stats).toMatchObject({ entries: 2, bytes: 25 });
    let loadedB = false;
    await cache.get(file('b'), 10, () => {
      loadedB = true;
      return Promise.resolve(Buffer.alloc(10));
    });
    expect(loadedB).toBe(true);
    expect(cache.stats.bytes).toBeLessThanOrEqual(30);
    expect(cache.get(file('big'), 31, load(31))).toBeNull();
  });

  test('a failed load is forgotten: the next transfer tries again', async () => {
    const cache = new FileCache(100);
    await expect(cache.get(file('k'), 10, () => Promise.reject(new Error('EIO')))).rejects.toThrow('EIO');
    await Promise.resolve();
    expect(cache.stats).toMatchObject({ entries: 0, bytes: 0 });
    expect(await cache.get(file('k'), 10, () => Promise.resolve(Buffer.alloc(10)))).toHaveLength(10);
  });
});
