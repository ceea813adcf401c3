// The domain's catalogue on a real SQLite store: which scripts a phase runs (ScriptCatalogue), what
// operators may upload (Catalogue), zones and pools, and Store.transaction's all-or-nothing.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Catalogue, type ScriptUpload } from '../../src/machines/catalogue.js';
import { ScriptCatalogue, scriptsForPhase, type RunnableScript } from '../../src/machines/scripts.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/fixtures.js';

const shell = (text: string) => Buffer.from(`#!/bin/sh\n${text}\n`);

function builtin(name: string, kind: RunnableScript['kind']): RunnableScript {
  return { name, kind, description: '', timeoutSeconds: 60, parameters: {}, tags: [], content: shell(name), builtin: true };
}

function upload(fields: Partial<ScriptUpload> = {}): ScriptUpload {
  return { kind: 'commissioning', description: '', timeoutSeconds: 60, parameters: {}, tags: [], content: shell('true'), ...fields };
}

let dir: ReturnType<typeof tempDir>;
let store: Store;
let scripts: ScriptCatalogue;
let catalogue: Catalogue;

beforeEach(() => {
  dir = tempDir();
  store = openStore(dir.path);
  scripts = new ScriptCatalogue(store, [builtin('50-testing', 'testing'), builtin('00-inventory', 'commissioning')]);
  catalogue = new Catalogue(store, scripts);
});

afterEach(async () => {
  await store.close();
  dir.cleanup();
});

describe('ScriptCatalogue', () => {
  test('a phase runs the built-in and uploaded scripts of its kind, by name, those tagged for other machines left out', () => {
    catalogue.putScript('10-mine', upload());
    catalogue.putScript('20-gpu', upload({ tags: ['gpu'] }));
    catalogue.putScript('05-test', upload({ kind: 'testing' }));
    expect(scripts.forPhase('commissioning', []).map((s) => [s.name, s.builtin])).toEqual([['00-inventory', true], ['10-mine', false]]);
    expect(scripts.forPhase('commissioning', ['gpu']).map((s) => s.name)).toEqual(['00-inventory', '10-mine', '20-gpu']);
    expect(scripts.forPhase('testing', []).map((s) => s.name)).toEqual(['05-test', '50-testing']);
  });

  test('builtins() lists every phase without a machine; uploaded() has the stored ones as runnable', () => {
    expect(scripts.builtins().map((s) => s.name)).toEqual(['00-inventory', '50-testing']);
    catalogue.putScript('10-mine', upload({ parameters: { RETRIES: '3' } }));
    expect(scripts.uploaded()).toEqual([expect.objectContaining({ name: '10-mine', builtin: false, parameters: { RETRIES: '3' } })]);
    expect(scripts.uploaded()[0]).not.toHaveProperty('createdAt');
  });

  test('scriptsForPhase: an untagged script is for every machine, a tagged one for machines with any of its tags', () => {
    const all = [builtin('b', 'commissioning'), { ...builtin('a', 'commissioning'), tags: ['x', 'y'] }];
    expect(scriptsForPhase(all, 'commissioning', ['y']).map((s) => s.name)).toEqual(['a', 'b']);
    expect(scriptsForPhase(all, 'commissioning', ['z']).map((s) => s.name)).toEqual(['b']);
  });
});

describe('Catalogue', () => {
  test('scripts(): built-ins (commissioning, then testing), then uploaded ones with their creation time', () => {
    catalogue.putScript('01-first', upload());
    const listed = catalogue.scripts();
    expect(listed.map((s) => [s.name, s.builtin])).toEqual([['00-inventory', true], ['50-testing', true], ['01-first', false]]);
    expect(listed[2]).toHaveProperty('createdAt');
  });

  test.each([
    { name: 'a name that is not a file name', script: 'a/b', fields: {}, error: /must match/ },
    { name: 'content without #!', script: 'x', fields: { content: Buffer.from('echo hi') }, error: /starts with #!/ },
    { name: "a built-in's name in its phase", script: '00-inventory', fields: {}, error: /built-in script/ },
  ])('putScript refuses $name', ({ script, fields, error }) => {
    expect(() => catalogue.putScript(script, upload(fields))).toThrow(error);
    expect(store.scripts.list()).toEqual([]);
  });

  test("a built-in's name is free in the other phase; a put replaces; delete of an unknown script is NotFound", () => {
    expect(catalogue.putScript('00-inventory', upload({ kind: 'testing' })).kind).toBe('testing');
    expect(catalogue.putScript('00-inventory', upload({ kind: 'testing', timeoutSeconds: 5 })).timeoutSeconds).toBe(5);
    catalogue.deleteScript('00-inventory');
    expect(store.scripts.list()).toEqual([]);
    expect(() => catalogue.deleteScript('00-inventory')).toThrow(expect.objectContaining({ statusCode: 404 }));
  });

  test('zones and pools: put, list, and delete only when empty and not the default', () => {
    for (const kind of ['zones', 'pools'] as const) {
      expect(catalogue.putGroup(kind, 'rack-1', 'first rack')).toEqual({ name: 'rack-1', description: 'first rack' });
      expect(catalogue.groups(kind).map((g) => g.name)).toEqual(['default', 'rack-1']);
      expect(() => catalogue.putGroup(kind, '-bad', '')).toThrow(/letters, digits/);
      expect(() => catalogue.deleteGroup(kind, 'default')).toThrow(expect.objectContaining({ statusCode: 409 }));
      const { id } = store.machines.create({ bootMac: '52:54:00:00:20:01', power: { type: 'manual' } });
      store.machines.update(id, kind === 'zones' ? { zone: 'rack-1' } : { pool: 'rack-1' });
      expect(() => catalogue.deleteGroup(kind, 'rack-1')).toThrow(/1 machine\(s\) are in/);
      store.machines.delete(id);
      catalogue.deleteGroup(kind, 'rack-1');
      expect(() => catalogue.deleteGroup(kind, 'rack-1')).toThrow(expect.objectContaining({ statusCode: 404 }));
    }
  });
});

describe('Store.transaction', () => {
  test('returns the value; a throw rolls back every write in it', () => {
    expect(store.transaction(() => 42)).toBe(42);
    expect(() => store.transaction(() => {
      store.groups.put('zones', { name: 'gone', description: '' });
      throw new Error('boom');
    })).toThrow('boom');
    expect(store.groups.exists('zones', 'gone')).toBe(false);
  });
});
