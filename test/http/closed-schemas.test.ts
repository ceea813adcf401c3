// STYLE.md §17: every request schema is closed. Builds both fastify apps (the boot side with every
// plugin src/appliance.ts registers, and the operator API), collects each route's schema with an
// onRoute hook, and walks body, querystring and params recursively: an object without
// `additionalProperties: false` (or with patternProperties and without it, probe F3) fails, and so
// does a string or number without a bound (probe F12).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { BootAuth } from '../../src/machines/boot-auth.js';

interface Collected { app: number; method: string; url: string; schema: RouteOptions['schema'] }
const collected = vi.hoisted(() => ({ routes: [] as Collected[], apps: 0 }));

// The apps create their own fastify instances and register routes before they are handed back, so
// the hook goes on each instance as it is created.
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<typeof import('fastify')>();
  const wrapped = ((options: Parameters<typeof actual.default>[0]) => {
    const app = actual.default(options);
    const n = ++collected.apps;
    app.addHook('onRoute', (route) => {
      collected.routes.push({ app: n, method: String(route.method), url: route.url, schema: route.schema });
    });
    return app;
  }) as unknown as typeof actual.default;
  return { ...actual, default: wrapped, fastify: wrapped };
});

const { buildApiApp } = await import('../../src/api/index.js');
const { cloudInitRoutes, RenderCache } = await import('../../src/cloud-init/index.js');
const { enlistRoutes, machineCallbackRoutes } = await import('../../src/enlist/index.js');
const { Catalogue } = await import('../../src/machines/catalogue.js');
const { ScriptRuns } = await import('../../src/machines/script-runs.js');
const { buildBootApp } = await import('../../src/http-boot/index.js');
const { LifecycleBooter } = await import('../../src/machines/booter.js');
const { MachineService } = await import('../../src/machines/service.js');
const { Tagging } = await import('../../src/machines/tagging.js');
const { createPowerDriver, parsePowerSettings } = await import('../../src/power/index.js');
const { openStore } = await import('../../src/store/index.js');
const { silentLog, tempDir } = await import('../support/fixtures.js');

/** Every object schema under `schema` that is not closed, by its path. */
export function openObjects(schema: unknown, path: string, out: string[] = []): string[] {
  if (schema === null || typeof schema !== 'object') return out;
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => openObjects(s, `${path}[${i}]`, out));
    return out;
  }
  const s = schema as Record<string, unknown>;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const isObject = types.includes('object') || 'properties' in s || 'patternProperties' in s;
  if (isObject && s.additionalProperties !== false) {
    out.push(`${path || '/'}${'patternProperties' in s ? ' (patternProperties without additionalProperties: false)' : ''}`);
  }
  for (const key of ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']) {
    const map = s[key];
    if (map && typeof map === 'object') for (const [k, v] of Object.entries(map)) openObjects(v, `${path}/${k}`, out);
  }
  for (const key of ['items', 'additionalItems', 'prefixItems', 'contains', 'not', 'if', 'then', 'else',
    'additionalProperties', 'propertyNames', 'anyOf', 'oneOf', 'allOf']) {
    if (s[key] && typeof s[key] === 'object') openObjects(s[key], `${path}/${key}`, out);
  }
  return out;
}

/**
 * Every string and number below `schema` without a bound, by its path (STYLE.md §17: probe F12's
 * `sizeBytes: 1e300`). A string is bounded by maxLength, or by a pattern anchored at both ends
 * whose every part has a fixed repeat count; enum and const bound anything.
 */
export function unbounded(schema: unknown, path: string, out: string[] = []): string[] {
  if (schema === null || typeof schema !== 'object') return out;
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => unbounded(s, `${path}[${i}]`, out));
    return out;
  }
  const s = schema as Record<string, unknown>;
  const fixed = 'const' in s || 'enum' in s;
  if (s.type === 'string' && !fixed && s.maxLength === undefined && !boundedPattern(s.pattern)) out.push(`${path || '/'} (string)`);
  if ((s.type === 'integer' || s.type === 'number') && !fixed && s.maximum === undefined) out.push(`${path || '/'} (${s.type})`);
  for (const key of ['properties', 'patternProperties']) {
    const map = s[key];
    if (map && typeof map === 'object') for (const [k, v] of Object.entries(map)) unbounded(v, `${path}/${k}`, out);
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'not']) {
    if (s[key] && typeof s[key] === 'object') unbounded(s[key], `${path}/${key}`, out);
  }
  return out;
}

function boundedPattern(pattern: unknown): boolean {
  return typeof pattern === 'string' && pattern.startsWith('^') && pattern.endsWith('$') && !/[*+]|\{\d+,\}/.test(pattern.replace(/\\./g, ''));
}

describe('every route schema is closed (STYLE.md §17)', () => {
  let dir: ReturnType<typeof tempDir>;
  let apps: FastifyInstance[] = [];
  let service: InstanceType<typeof MachineService>;
  let store: ReturnType<typeof openStore>;

  beforeAll(async () => {
    dir = tempDir();
    store = openStore(join(dir.path, 'data'));
    service = new MachineService({
      store, log: silentLog, builtinScripts: [],
      powerDriver: (settings) => createPowerDriver(parsePowerSettings(settings)),
      timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
    });
    const tagging = new Tagging(store);
    const publicUrl = 'http://10.213.0.1';
    const images = { get: () => ({ files: { kernel: { id: 'k'.repeat(64) }, initrd: { id: 'i'.repeat(64) } } }) };
    const auth = new BootAuth({ machines: store.machines, events: store.events });
    const boot = buildBootApp({
      booter: new LifecycleBooter({ publicUrl, enlistImage: 'micro', images, machines: store.machines }),
      files: { fileById: () => undefined }, events: store.events, publicUrl, log: silentLog,
      auth, loaders: {},
    });
    // The same plugins, in the same order, as src/appliance.ts (the next test keeps the lists equal).
    boot.register(enlistRoutes, { store, tagging });
    boot.register(machineCallbackRoutes, { auth, runs: new ScriptRuns({ store, service, tagging }) });
    boot.register(cloudInitRoutes, { auth, events: store.events, cache: new RenderCache(), publicUrl, sshKeys: [] });
    const api = await buildApiApp({ store, service, tagging, catalogue: new Catalogue(store, service.scripts), token: 'operator-token-for-tests-0123456789', log: silentLog });
    apps = [boot, api];
    await Promise.all(apps.map((a) => a.ready()));
  });

  afterAll(async () => {
    await service.close();
    await Promise.all(apps.map((a) => a.close()));
    await store.close();
    dir.cleanup();
  });

  test('the boot app here has every plugin src/appliance.ts registers', () => {
    const source = readFileSync(new URL('../../src/appliance.ts', import.meta.url), 'utf8');
    const registered = [...source.matchAll(/\bapp\.register\((\w+)/g)].map((m) => m[1]);
    expect(registered).toEqual(['enlistRoutes', 'machineCallbackRoutes', 'cloudInitRoutes']);
  });

  test('both apps were seen, with their routes', () => {
    expect(collected.apps).toBe(2);
    const urls = collected.routes.map((r) => `${r.method} ${r.url}`);
    for (const expected of ['POST /enlist/v1/machines', 'POST /api/v1/machine/results', 'POST /cloud-init/:token/events',
      'PUT /api/v1/scripts/:name', 'POST /api/v1/machines', 'GET /api/v1/machines']) {
      expect(urls).toContain(expected);
    }
  });

  test('no route has an open object in its body, querystring or params', () => {
    const open = collected.routes.flatMap((r) => (['body', 'querystring', 'params'] as const).flatMap((part) =>
      openObjects((r.schema as Record<string, unknown> | undefined)?.[part], '').map((p) => `${r.method} ${r.url} ${part}${p}`)));
    expect(open).toEqual([]);
  });

  test('no route has an unbounded string or number in its body, querystring or params', () => {
    const loose = collected.routes.flatMap((r) => (['body', 'querystring', 'params'] as const).flatMap((part) =>
      unbounded((r.schema as Record<string, unknown> | undefined)?.[part], '').map((p) => `${r.method} ${r.url} ${part}${p}`)));
    expect(loose).toEqual([]);
  });

  test('the walker finds open objects, records and nested ones', () => {
    expect(openObjects({ type: 'object', properties: { a: { type: 'string' } } }, '')).toEqual(['/']);
    expect(openObjects({ type: 'object', patternProperties: { '^a$': {} } }, '')).toEqual(['/ (patternProperties without additionalProperties: false)']);
    expect(openObjects({
      type: 'object', additionalProperties: false,
      properties: { list: { type: 'array', items: { anyOf: [{ type: 'null' }, { type: 'object', properties: {} }] } } },
    }, '')).toEqual(['/list/items/anyOf[1]']);
    expect(openObjects({ type: 'object', additionalProperties: false, patternProperties: { '^a$': { type: 'string' } } }, '')).toEqual([]);
  });

  test('the walker finds unbounded strings and numbers', () => {
    expect(unbounded({
      type: 'object', properties: {
        a: { type: 'string' }, b: { type: 'string', pattern: '^[a-z]+$' }, c: { type: 'integer', minimum: 0 },
        d: { type: 'string', pattern: '^[0-9a-f]{64}$' }, e: { type: 'string', maxLength: 3 }, f: { type: 'number', maximum: 1 },
        g: { type: 'array', items: { anyOf: [{ type: 'null' }, { type: 'integer' }] } }, h: { type: 'string', const: 'x' },
      },
    }, '')).toEqual(['/a (string)', '/b (string)', '/c (integer)', '/g/items/anyOf[1] (integer)']);
  });
});
