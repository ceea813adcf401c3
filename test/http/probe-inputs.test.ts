// The bad inputs of the 2026-12 probe (security-probe-2026-12.md F3, F7, F8, F12), sent through
// inject() to both apps on a real SQLite store: each is now a 400, or (an old bad script) skipped.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { untar } from '../support/tar.js';
import type { FastifyInstance } from 'fastify';
import type { RunnableScript } from '../../src/machines/scripts.js';
import type { Store } from '../../src/store/index.js';
import { sampleInventory } from '../support/fixtures.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';

const auth = { authorization: `Bearer ${token}` };
const builtin: RunnableScript[] = [{
  name: '00-inventory', kind: 'commissioning', description: '', timeoutSeconds: 60, parameters: {}, tags: [],
  content: Buffer.from('#!/bin/sh\nexit 0\n'), builtin: true,
}];
/** The probe's terminal-control strings (F7). */
const hostile = ['x86\u0000\u001b[31mRED\u001b[0m', '\u202eevil\r\nINJECT', '\u001b]0;title\u0007', '\u0007bell', 'a\u0085b', 'a\u2066b', 'a\u007fb'];


describe('probe inputs (F3, F7, F8, F12)', () => {
  let appliance: TestAppliance;
  let store: Store;
  let api: FastifyInstance;
  let boot: FastifyInstance;

  beforeEach(async () => {
    appliance = await testAppliance({ builtinScripts: builtin });
    ({ store } = appliance);
    api = appliance.apiApp!;
    boot = appliance.bootApp!;
  });

  afterEach(async () => {
    await appliance.dispose();
  });

  const enlist = (inventory: unknown) => boot.inject({ method: 'POST', url: '/enlist/v1/machines', payload: inventory as object });
  /** A machine added by hand: Commissioning at once, with a run token. */
  const commissioning = async () => {
    const added = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: '52:54:00:12:34:56', power: { type: 'manual' } } });
    expect(added.statusCode).toBe(201);
    return store.machines.get(added.json().id)!;
  };

  describe('enlistment (F7, F12)', () => {
    const nic = sampleInventory().nics[0]!;
    const disk = sampleInventory().disks[0]!;
    const cases: Array<{ name: string; inventory: Record<string, unknown> }> = [
      { name: 'memoryBytes 1e308', inventory: { memoryBytes: 1e308 } },
      { name: 'memoryBytes 2^63', inventory: { memoryBytes: 9223372036854775808 } },
      { name: 'memoryBytes above 2^50', inventory: { memoryBytes: 2 ** 50 + 1 } },
      { name: 'disk sizeBytes 1e300', inventory: { disks: [{ ...disk, sizeBytes: 1e300 }] } },
      { name: 'nic speed 1e300', inventory: { nics: [{ ...nic, speedMbps: 1e300 }] } },
      ...['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', '00:00:00:00:00:00'].map((mac) => ({
        name: `boot MAC ${mac}`, inventory: { bootMac: mac, nics: [{ ...nic, mac }] },
      })),
      { name: 'a zeroed second NIC', inventory: { nics: [nic, { ...nic, name: 'eth1', mac: '00:00:00:00:00:00' }] } },
      ...hostile.map((text) => ({ name: `arch ${JSON.stringify(text)}`, inventory: { arch: text } })),
      { name: 'kernel with a bidi override and CR/LF', inventory: { kernel: '\u202eevil\r\nINJECT' } },
      { name: 'cpu.model with BEL', inventory: { cpu: { count: 2, model: '\u0007bell' } } },
      { name: 'dmi.vendor with OSC', inventory: { dmi: { ...sampleInventory().dmi, vendor: '\u001b]0;title\u0007' } } },
      { name: 'disk model with a C1 CSI', inventory: { disks: [{ ...disk, model: 'a\u009b31mb' }] } },
      { name: 'nic driver with an LRM', inventory: { nics: [{ ...nic, driver: 'e1000\u200e' }] } },
    ];
    test.each(cases)('$name: 400, no machine', async ({ inventory }) => {
      const response = await enlist({ ...sampleInventory(), ...inventory });
      expect(response.statusCode).toBe(400);
      expect(store.machines.list()).toEqual([]);
    });

    test('the boot MAC must be one of the NICs, with a message that says so', async () => {
      const response = await enlist(sampleInventory({ bootMac: '52:54:00:aa:bb:cc' }));
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toMatch(/bootMac 52:54:00:aa:bb:cc is not the MAC of any NIC/);
      expect(store.machines.list()).toEqual([]);
    });

    test('plain text, accents and the largest sizes still enlist', async () => {
      const response = await enlist(sampleInventory({
        cpu: { count: 2, model: 'Intel® Xeon® Gold 6338 — 2.00GHz' }, memoryBytes: 2 ** 50,
        disks: [{ ...disk, sizeBytes: 2 ** 60, model: 'Samsung SSD 990 PRO 4TB' }],
        nics: [nic, { ...nic, name: 'eth1', mac: '02:00:00:00:00:01' }],
      }));
      expect(response.statusCode).toBe(201);
    });
  });

  describe('machines add (F12)', () => {
    test.each([
      ['ff:ff:ff:ff:ff:ff', /broadcast/], ['01:00:5e:00:00:01', /multicast/], ['03-00-00-00-00-01', /multicast/],
      ['00:00:00:00:00:00', /all zero/], ['000000000000', /all zero/],
    ])('%s: 400 saying why', async (mac, why) => {
      const response = await api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac, power: { type: 'manual' } } });
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toMatch(why);
      expect(store.machines.list()).toEqual([]);
    });
  });

  describe('results files (F3)', () => {
    const result = (files: unknown) => ({
      phase: 'commissioning', name: '00-inventory', exitCode: 0, timedOut: false, durationMs: 1, stdout: '', stderr: '', files,
    });
    test.each([
      ['an array-like object under a key outside the pattern', { '../../x': { length: 100_000_000 } }],
      ['a number under a key with a space', { 'a b': 5 }],
      ['a key with a slash', { 'a/b': 'AAAA' }],
      ['a value that is not base64', { 'out.txt': '!!!not base64' }],
      ['an object under a good key', { 'out.txt': { length: 100_000_000 } }],
    ])('%s: 400 at once, nothing stored', async (_name, files) => {
      const machine = await commissioning();
      const started = Date.now();
      const response = await boot.inject({
        method: 'POST', url: '/api/v1/machine/results', headers: { authorization: `Bearer ${machine.token}` }, payload: result(files),
      });
      expect(response.statusCode).toBe(400);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(store.scripts.run(machine.runId!)?.results).toEqual([]);
    });

    test('good files are still taken', async () => {
      const machine = await commissioning();
      const response = await boot.inject({
        method: 'POST', url: '/api/v1/machine/results', headers: { authorization: `Bearer ${machine.token}` },
        payload: result({ 'out.txt': Buffer.from('hello').toString('base64') }),
      });
      expect(response.statusCode).toBe(204);
      expect(store.scripts.run(machine.runId!)?.results[0]?.files['out.txt']?.toString()).toBe('hello');
    });
  });

  describe('script parameters (F8)', () => {
    const put = (parameters: unknown) => api.inject({
      method: 'PUT', url: '/api/v1/scripts/99-probe', headers: auth,
      payload: { kind: 'commissioning', timeoutSeconds: 30, content: '#!/bin/sh\nexit 0\n', parameters },
    });
    test.each([
      ['NETBOOT_TOKEN', { NETBOOT_TOKEN: 'overridden' }],
      ['a command substitution in the name', { 'X=1 $(id>/tmp/p) Y': 'v' }],
      ['a lower-case name', { lower: 'v' }],
      ['an object as the value', { RETRIES: { length: 5 } }],
      ['a leading digit', { '1X': 'v' }],
      ['a value past 4096 characters', { BIG: 'x'.repeat(4097) }],
    ])('%s: 400, not stored', async (_name, parameters) => {
      expect((await put(parameters)).statusCode).toBe(400);
      expect(store.scripts.list()).toEqual([]);
    });

    test('shell identifiers outside NETBOOT_ are stored and written quoted', async () => {
      expect((await put({ DISK: "/dev/sda'; rm -rf /", _X9: '', NETBOOTX: 'y' })).statusCode).toBe(200);
      const machine = await commissioning();
      const tar = await boot.inject({ url: '/api/v1/machine/scripts?phase=commissioning', headers: { authorization: `Bearer ${machine.token}` } });
      expect((await untar(tar.rawPayload)).get('scripts/99-probe.env')).toBe(`DISK='/dev/sda'\\''; rm -rf /'\n_X9=''\nNETBOOTX='y'\n`);
    });

    test('a bad script stored by an older version is skipped with an event; every machine still gets its bundle', async () => {
      store.scripts.put({
        name: '99-old', kind: 'commissioning', description: '', timeoutSeconds: 30, tags: [], content: Buffer.from('#!/bin/sh\n'),
        parameters: { 'X=1 $(id>/tmp/p) Y': 'v', RETRIES: 7 } as unknown as Record<string, string>,
      });
      const machine = await commissioning();
      expect(store.scripts.run(machine.runId!)?.scripts).toEqual(['00-inventory']);
      const tar = await boot.inject({ url: '/api/v1/machine/scripts?phase=commissioning', headers: { authorization: `Bearer ${machine.token}` } });
      expect(tar.statusCode).toBe(200);
      const files = await untar(tar.rawPayload);
      // The built-in script carries only the appliance's own commissioning parameters (config bmc).
      expect([...files.keys()].sort()).toEqual(['index.tsv', 'scripts/00-inventory', 'scripts/00-inventory.env']);
      expect(files.get('scripts/00-inventory.env')).toBe("BMC_CREATE_USER='1'\nBMC_USERNAME='netboot'\n");
      // since(0): events of a machine added by hand have no machine id yet (code review item 5).
      const skipped = store.events.since(0).filter((e) => e.mac === machine.bootMac).filter((e) => e.type === 'scripts' && e.detail.startsWith('skipped 99-old'));
      expect(skipped.length).toBeGreaterThan(0);
      expect(skipped[0]!.detail).toMatch(/parameter name .* does not match/);
    });
  });

  describe('cloud-init reporting events (F7, F12)', () => {
    const post = async (event: object) => {
      const machine = await commissioning();
      return boot.inject({ method: 'POST', url: `/cloud-init/${machine.token}/events`, payload: JSON.stringify(event) });
    };
    test('a 900 KB description is refused (413, the plugin body limit)', async () => {
      const response = await post({ name: 'init-local', event_type: 'finish', result: 'FAIL', description: 'x'.repeat(900_000) });
      expect(response.statusCode).toBe(413);
    });
    test.each([
      ['a 20 KB description', { name: 'init-local', event_type: 'finish', result: 'FAIL', description: 'x'.repeat(20_000) }],
      ['an escape in the name', { name: 'init\u001b[2Jlocal', event_type: 'finish' }],
      ['a bidi override in event_type', { name: 'init-local', event_type: '\u202efinish' }],
      ['a long origin', { name: 'init-local', event_type: 'finish', origin: 'o'.repeat(300) }],
      ['an OSC in the result', { name: 'init-local', event_type: 'finish', result: '\u001b]0;x\u0007' }],
    ])('%s: 400', async (_name, event) => {
      expect((await post(event)).statusCode).toBe(400);
    });
  });
});
