// The security probe's boot-side findings (../shared/research/security-probe-2026-12.md), each as the
// request the probe sent and the refusal or bound it must now meet. Real store, real leases, the real
// boot-side app with every plugin the appliance registers; requests through inject() with the source
// address set, as a host on the boot network would send them.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { MachineService } from '../../src/machines/service.js';
import type { Store } from '../../src/store/index.js';
import { resultLimits } from '../../src/machines/result-limits.js';
import type { Machine } from '../../src/machines/model.js';
import { sampleInventory } from '../support/fixtures.js';
import { testAppliance, type TestAppliance } from '../support/appliance.js';

const victimMac = '52:54:00:aa:00:01';
const victimIp = '10.213.0.101';
const attackerMac = '52:54:00:bb:00:01';
const attackerIp = '10.213.0.150';

describe('boot side against a host on the boot network', () => {
  let appliance: TestAppliance;
  let store: Store;
  let service: MachineService;
  let boot: FastifyInstance;
  let fileId: string;

  beforeEach(async () => {
    // As `serve` wires it in full DHCP mode: tokens bound to the holder of the address's lease.
    appliance = await testAppliance({ leases: { macOf: (ip) => appliance.store.leases.byIp(ip)?.mac } });
    ({ store, service } = appliance);
    boot = appliance.bootApp!;
    fileId = appliance.images.bootImage('micro').files.kernel.id;
    store.leases.upsertMany([
      { mac: victimMac, ip: victimIp, state: 'bound', expiresAt: Date.now() + 3_600_000 },
      { mac: attackerMac, ip: attackerIp, state: 'bound', expiresAt: Date.now() + 3_600_000 },
    ]);
  });

  afterEach(async () => {
    await appliance.dispose();
  });

  const enlist = (inventory: object, from = attackerIp) =>
    boot.inject({ method: 'POST', url: '/enlist/v1/machines', payload: inventory, remoteAddress: from });
  const victimInventory = () => sampleInventory({
    bootMac: victimMac, nics: [{ name: 'eth0', mac: victimMac, driver: 'e1000', link: true, speedMbps: 1000 }],
  });
  const enlistVictim = async (): Promise<Machine> => {
    const res = await enlist(victimInventory(), victimIp);
    expect(res.statusCode).toBe(201);
    return store.machines.get(res.json().id)!;
  };
  const timeline = (id: string) => store.events.forMachine(id).map((e) => `${e.type}: ${e.detail}`);
  const commissioning = async (): Promise<Machine> => {
    const victim = await enlistVictim();
    return service.act(victim.id, { type: 'commission' });
  };

  describe('F1: enlistment only creates, or refreshes a machine that is still New and unlocked', () => {
    test.each([
      ['its boot MAC', { bootMac: victimMac, nics: [{ name: 'eth0', mac: victimMac, driver: 'e1000', link: true, speedMbps: 1000 }] }],
      ['its MAC as a second NIC', {
        bootMac: attackerMac,
        nics: [{ name: 'eth0', mac: attackerMac, driver: 'e1000', link: true, speedMbps: 1000 }, { name: 'eth1', mac: victimMac, driver: 'e1000', link: true, speedMbps: 1000 }],
      }],
      ['its SMBIOS UUID', { bootMac: attackerMac, nics: [{ name: 'eth0', mac: attackerMac, driver: 'e1000', link: true, speedMbps: 1000 }] }],
    ])('a Ready, locked machine claimed by %s: 409, nothing changes, its timeline says so', async (_name, claim) => {
      const victim = await enlistVictim();
      store.machines.update(victim.id, { state: 'Ready', locked: true });
      const before = store.machines.get(victim.id)!;
      const res = await enlist(sampleInventory({ ...claim, cpu: { count: 64, model: 'pwned' }, memoryBytes: 1 } as object));
      expect(res.statusCode).toBe(409);
      // Nothing about the victim in the answer to an anonymous client.
      expect(res.body).not.toContain(victim.id);
      expect(res.body).not.toContain(victim.hostname);
      const after = store.machines.get(victim.id)!;
      expect(after.inventory).toEqual(before.inventory);
      expect(after.bootMac).toBe(victimMac);
      expect(after.updatedAt).toBe(before.updatedAt);
      expect(store.machines.list()).toHaveLength(1);
      expect(store.machines.byMac(victimMac)?.id).toBe(victim.id);
      expect(timeline(victim.id).at(-1)).toMatch(/^enlist-refused: from boot MAC .*already enlisted and locked/);
    });

    test('a second NIC carrying a New machine\'s MAC never moves that NIC', async () => {
      const victim = await enlistVictim();
      const res = await enlist(sampleInventory({
        bootMac: attackerMac, dmi: { ...sampleInventory().dmi, uuid: '' },
        nics: [{ name: 'eth0', mac: attackerMac, driver: 'e1000', link: true, speedMbps: 1000 }, { name: 'eth1', mac: victimMac, driver: 'e1000', link: true, speedMbps: 1000 }],
      }));
      // Two owners (the victim by its MAC, nobody by the other): the one it names is the victim's.
      expect(res.statusCode).toBe(409);
      expect(store.machines.byMac(victimMac)?.id).toBe(victim.id);
      expect(store.machines.list()).toHaveLength(1);
    });

    test('a New, unlocked machine is refreshed, but its boot MAC is never re-pointed', async () => {
      const victim = await enlistVictim();
      const res = await enlist(sampleInventory({
        bootMac: attackerMac,
        nics: [{ name: 'eth0', mac: attackerMac, driver: 'e1000', link: true, speedMbps: 1000 }, { name: 'eth1', mac: victimMac, driver: 'e1000', link: true, speedMbps: 1000 }],
        memoryBytes: 2 ** 30,
      }));
      expect(res.statusCode).toBe(200);
      const after = store.machines.get(victim.id)!;
      expect(after.inventory?.memoryBytes).toBe(2 ** 30);
      expect(after.bootMac).toBe(victimMac);
    });
  });

  describe('F2: a run token goes only to the address leased to the machine', () => {
    test('the boot script of a commissioning machine: with its token for the machine, without for anyone else', async () => {
      const machine = await commissioning();
      const theirs = await boot.inject({ url: `/boot/${victimMac}.ipxe`, remoteAddress: attackerIp });
      expect(theirs.statusCode).toBe(200);
      expect(theirs.body).not.toContain(machine.token!);
      expect(theirs.body).toContain(`served only to the address leased to ${victimMac}`);
      expect(timeline(machine.id).at(-1)).toBe(`token-refused: boot script asked from ${attackerIp}, which is leased to ${attackerMac}`);
      const unleased = await boot.inject({ url: `/boot/${victimMac}.ipxe`, remoteAddress: '10.213.0.222' });
      expect(unleased.body).not.toContain(machine.token!);
      const own = await boot.inject({ url: `/boot/${victimMac}.ipxe`, remoteAddress: victimIp });
      expect(own.body).toContain(`netboot.token=${machine.token}`);
    });

    test('the callbacks and the seed refuse the token from another address (403) and flag it', async () => {
      const machine = await commissioning();
      const authz = { authorization: `Bearer ${machine.token}` };
      const requests = [
        { url: '/api/v1/machine/scripts?phase=commissioning', headers: authz },
        { url: '/api/v1/machine/ping', headers: authz },
        { method: 'POST' as const, url: '/api/v1/machine/finished', headers: authz, payload: { phase: 'commissioning' } },
        { url: `/cloud-init/${machine.token}/user-data` },
      ];
      for (const request of requests) {
        const res = await boot.inject({ ...request, remoteAddress: attackerIp });
        expect(res.statusCode, request.url).toBe(403);
        expect(res.json().error).toBe('NB_ERR_AUTH_FORBIDDEN');
      }
      expect(store.machines.get(machine.id)!.state).toBe('Commissioning');
      expect(timeline(machine.id).filter((e) => e.startsWith('token-refused'))).toHaveLength(requests.length);
      // The machine itself, from its leased address, goes on.
      expect((await boot.inject({ url: '/api/v1/machine/ping', headers: authz, remoteAddress: victimIp })).statusCode).toBe(200);
      expect((await boot.inject({ url: `/cloud-init/${machine.token}/meta-data`, remoteAddress: victimIp })).statusCode).toBe(200);
    });
  });

  describe('F4: the timeline is not writable by naming a MAC, and its writes are bounded', () => {
    test('?mac= naming another machine is ignored: the download is the lease holder\'s', async () => {
      const victim = await enlistVictim();
      const res = await boot.inject({ url: `/files/${fileId}?mac=${victimMac}`, remoteAddress: attackerIp });
      expect(res.statusCode).toBe(200);
      expect(timeline(victim.id).filter((e) => e.startsWith('kernel'))).toEqual([]);
      expect(store.events.since(0).filter((e) => e.type === 'kernel').map((e) => e.mac)).toEqual([attackerMac]);
    });

    test('a long Range header is stored as parsed, never as sent', async () => {
      const range = `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(',')}`;
      await boot.inject({ url: `/files/${fileId}`, headers: { range }, remoteAddress: attackerIp });
      const [event] = store.events.since(0).filter((e) => e.type === 'kernel');
      expect(event!.detail).toBe('range 0-0 (+999 more)');
    });

    test('one MAC flooding downloads gets its burst on the timeline, then nothing', async () => {
      const started = Date.now();
      for (let i = 0; i < 400; i++) await boot.inject({ url: `/files/${fileId}`, remoteAddress: attackerIp });
      const seconds = (Date.now() - started) / 1000;
      const written = store.events.since(0, 1000).filter((e) => e.mac === attackerMac).length;
      // The appliance's bound: a burst of 300, then 5 a second.
      expect(written).toBeGreaterThanOrEqual(300);
      expect(written).toBeLessThanOrEqual(300 + Math.ceil(5 * seconds) + 1);
      expect(appliance.bootEvents.droppedCount).toBe(400 - written);
    });
  });

  describe('F9: results are kept within bounds', () => {
    const result = (token: string, fields: object) => boot.inject({
      method: 'POST', url: '/api/v1/machine/results', remoteAddress: victimIp, headers: { authorization: `Bearer ${token}` },
      payload: { phase: 'commissioning', exitCode: 0, timedOut: false, durationMs: 1, stdout: '', stderr: '', files: {}, ...fields },
    });

    test('a huge stdout keeps its tail; files past the cap are refused with 413', async () => {
      const machine = await commissioning();
      store.scripts.finishRun(machine.runId!, 'aborted');
      const runId = store.scripts.startRun(machine.id, 'commissioning', ['00-big', '01-file']);
      store.machines.update(machine.id, { runId });
      const big = Buffer.alloc(3 * resultLimits.outputBytes, 'a');
      big.write('THE-END', big.length - 7);
      expect((await result(machine.token!, { name: '00-big', stdout: big.toString('base64') })).statusCode).toBe(204);
      const kept = store.scripts.run(runId)!.results[0]!.stdout;
      expect(kept.length).toBeLessThan(resultLimits.outputBytes + 100);
      expect(kept.toString()).toMatch(/^\[netboot: the first \d+ bytes of this output were not kept\]\n/);
      expect(kept.toString().endsWith('THE-END')).toBe(true);
      const file = Buffer.alloc(resultLimits.fileBytes + 1).toString('base64');
      const refused = await result(machine.token!, { name: '01-file', files: { 'dump.bin': file } });
      expect(refused.statusCode).toBe(413);
      expect(refused.json().error).toBe('NB_ERR_PAYLOAD_TOO_LARGE');
    });
  });

  describe('F12: headers and body limits', () => {
    test('files by id are immutable for caches; loaders are revalidated', async () => {
      const file = await boot.inject({ url: `/files/${fileId}`, remoteAddress: victimIp });
      expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const loader = await boot.inject({ url: '/loaders/ipxe.efi', remoteAddress: victimIp });
      expect(loader.headers['cache-control']).toBe('no-cache');
    });

    test('cloud-init reports are limited to 64 KiB whatever their content type', async () => {
      const machine = await commissioning();
      const payload = JSON.stringify({ name: 'init-local', event_type: 'finish', description: 'x'.repeat(900 * 1024) });
      for (const type of ['application/json', 'text/plain']) {
        const res = await boot.inject({
          method: 'POST', url: `/cloud-init/${machine.token}/events`, payload, headers: { 'content-type': type }, remoteAddress: victimIp,
        });
        expect(res.statusCode, type).toBe(413);
      }
    });
  });
});
