// Machines added by their BMC alone (issue 14), through the appliance as `serve` wires it (inject(),
// a real SQLite store): the record waits in New with no boot MAC while the BMC powers it on; the
// machine's first boot enlists it reporting its BMC's LAN address in-band, which claims the record,
// and commissioning starts; a Redfish BMC is asked for the system UUID, which claims it as well. The
// BMCs here are fake drivers (the real ones: test/interop, and the QEMU end-to-end test behind
// ipmi_sim); what is tested is the matching and what it changes.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../src/store/index.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { sampleInventory } from '../support/fixtures.js';
import { FakePowerDriver, type FakePowerCall } from '../support/power.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';

const auth = { authorization: `Bearer ${token}` };
const bmcPower = (address: string) => ({ type: 'ipmi', address, user: 'admin', password: 'bmc-admin-secret' });
const redfishPower = (address: string) => ({ type: 'redfish', address, user: 'root', password: 'redfish-secret' });
/** What the enlisting machine reports: its NIC, the BMC address ipmitool read in-band, its SMBIOS UUID. */
const inventory = (bootMac: string, bmcAddress?: string, uuid = '') => sampleInventory({
  bootMac, nics: [{ name: 'eth0', mac: bootMac, driver: 'e1000', link: true, speedMbps: 1000 }],
  dmi: { vendor: 'QEMU', product: 'Standard PC', serial: '', uuid },
  ...(bmcAddress ? { bmc: { address: bmcAddress, mac: '52:54:00:aa:bb:cc' } } : {}),
});

/** A Redfish BMC: the fake's power, and the system UUID it reports (ComputerSystem.UUID). */
class FakeRedfishBmc extends FakePowerDriver {
  uuid: string | undefined;
  /** The systemUuid() call throws this, with a BMC-like message. */
  uuidFailure: string | undefined;
  /** The power actions sent before the UUID was read, at each read. */
  readonly readsAfter: FakePowerCall[][] = [];

  systemUuid(): Promise<string | undefined> {
    this.readsAfter.push([...this.actions]);
    return this.uuidFailure ? Promise.reject(new Error(this.uuidFailure)) : Promise.resolve(this.uuid);
  }
}

const systemUuid = 'c0e0b0c0-0000-4000-8000-0000000000a1';

describe('a machine added by its BMC alone', () => {
  let appliance: TestAppliance;
  let store: Store;
  let api: FastifyInstance;
  let boot: FastifyInstance;
  let bmc: FakePowerDriver;
  let redfish: FakeRedfishBmc;
  let clock: number;

  beforeEach(async () => {
    bmc = new FakePowerDriver();
    redfish = new FakeRedfishBmc();
    clock = Date.UTC(2026, 11, 6, 12, 0, 0);
    appliance = await testAppliance({
      config: { 'lifecycle.enlistingTimeout': 600 }, now: () => clock,
      builtinScripts: [], powerDriver: (settings) => (settings.type === 'ipmi' ? bmc : settings.type === 'redfish' ? redfish : createPowerDriver(parsePowerSettings(settings))),
    });
    ({ store } = appliance);
    api = appliance.apiApp!;
    boot = appliance.bootApp!;
  });

  afterEach(async () => {
    await appliance.dispose();
  });

  const add = (payload: object) => api.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload });
  const enlist = (payload: object) => boot.inject({ method: 'POST', url: '/enlist/v1/machines', payload });
  const timeline = (id: string) => store.events.forMachine(id).map((e) => `${e.type}: ${e.detail}`);

  test('waits with no boot MAC, powered on; its enlistment claims it by the BMC address and commissioning starts', async () => {
    const added = await add({ power: bmcPower('10.0.0.5') });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.body).not.toContain('bmc-admin-secret');
    const waiting = added.json() as { id: string; bootMac: string | null; state: string; statusMessage: string };
    expect(waiting).toMatchObject({ bootMac: null, state: 'New', statusMessage: 'waiting for its first network boot: powered on through its BMC at 10.0.0.5' });
    await appliance.service.powerSettled(waiting.id);
    expect(bmc.actions).toEqual(['on']);

    // Another machine, with another BMC, is not this one: it enlists as a new machine.
    const stranger = await enlist(inventory('52:54:00:00:20:02', '10.0.0.9'));
    expect(stranger.statusCode).toBe(201);
    expect(store.machines.get(waiting.id)?.bootMac).toBeNull();

    const claimed = await enlist(inventory('52:54:00:00:20:01', '10.0.0.5'));
    expect(claimed.statusCode, claimed.body).toBe(200);
    // The agent reads this state: Commissioning tells it to wait for the power cycle, not power off.
    expect(claimed.json()).toMatchObject({ id: waiting.id, state: 'Commissioning', created: false });
    const machine = store.machines.get(waiting.id)!;
    expect(machine).toMatchObject({ bootMac: '52:54:00:00:20:01', state: 'Commissioning', statusMessage: '', timer: { name: 'commissioning' } });
    expect(machine.inventory?.bmc).toEqual({ address: '10.0.0.5', mac: '52:54:00:aa:bb:cc' });
    expect(store.machines.byMac('52:54:00:00:20:01')?.id).toBe(waiting.id);
    await appliance.service.powerSettled(waiting.id);
    expect(bmc.actions).toEqual(['on', 'cycle']);
    // One timeline from the adding on, though the machine had no MAC for its first events.
    expect(timeline(waiting.id)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^machine-added: \w+ by its BMC at 10\.0\.0\.5 \(power ipmi\)/),
      expect.stringMatching(/^enlisted: .*boot MAC 52:54:00:00:20:01, matched by its BMC at 10\.0\.0\.5$/),
      'state: New -> Commissioning',
    ]));
    expect(JSON.stringify(store.events.forMachine(waiting.id))).not.toContain('bmc-admin-secret');

    // Claimed once: the same BMC address from another MAC is now an ordinary new machine.
    const again = await enlist(inventory('52:54:00:00:20:03', '10.0.0.5'));
    expect(again.statusCode).toBe(201);
  });

  test('bad input changes nothing: no BMC address to match by, or a BMC already waiting', async () => {
    const manual = await add({ power: { type: 'manual' } });
    expect(manual.statusCode).toBe(400);
    expect(manual.json().message).toMatch(/added without a MAC is found by its BMC: give power type ipmi or redfish/);
    expect(store.machines.list()).toEqual([]);

    const first = await add({ power: bmcPower('10.0.0.5'), hostname: 'rack1-u1' });
    expect(first.statusCode).toBe(201);
    const twin = await add({ power: { ...bmcPower('10.0.0.5'), port: 624 } });
    expect(twin.statusCode).toBe(409);
    expect(twin.json().message).toMatch(/added by the same BMC address 10\.0\.0\.5, has not enlisted yet/);
    const taken = await add({ power: bmcPower('10.0.0.6'), hostname: 'rack1-u1' });
    expect(taken.statusCode).toBe(409);
    expect(store.machines.list()).toHaveLength(1);
  });

  test('a locked waiting machine is not claimed; a Redfish BMC is matched by its URL\'s host', async () => {
    const locked = (await add({ power: bmcPower('10.0.0.5') })).json() as { id: string };
    expect((await api.inject({ method: 'POST', url: `/api/v1/machines/${locked.id}/actions/lock`, headers: auth })).statusCode).toBe(200);
    expect((await enlist(inventory('52:54:00:00:20:01', '10.0.0.5'))).statusCode).toBe(201);
    expect(store.machines.get(locked.id)?.bootMac).toBeNull();

    const redfish = await add({ power: { type: 'redfish', address: 'https://10.0.0.7:8443', user: 'root', password: 'calvin' } });
    expect(redfish.statusCode, redfish.body).toBe(201);
    const id = (redfish.json() as { id: string }).id;
    const claimed = await enlist(inventory('52:54:00:00:20:04', '10.0.0.7'));
    expect(claimed.json()).toMatchObject({ id, state: 'Commissioning' });
  });

  test('a Redfish BMC\'s system UUID, read before the power-on, claims the record when an enlistment reports it (no BMC address, any case)', async () => {
    redfish.uuid = systemUuid.toUpperCase(); // DSP0268 leaves the case to the BMC
    const { id } = (await add({ power: redfishPower('https://10.0.0.7:8443') })).json() as { id: string };
    await appliance.service.powerSettled(id);
    expect(redfish.readsAfter).toEqual([[]]);
    expect(redfish.actions).toEqual(['on']);
    expect(store.machines.get(id)).toMatchObject({ uuid: systemUuid, bootMac: null, state: 'New' });
    expect(timeline(id)).toContain(`note: its BMC reports system UUID ${systemUuid}`);

    // Another machine's UUID is not this one: it enlists as a new machine.
    const stranger = await enlist(inventory('52:54:00:00:20:02', undefined, 'c0e0b0c0-0000-4000-8000-0000000000b2'));
    expect(stranger.statusCode).toBe(201);
    expect(store.machines.get(id)?.bootMac).toBeNull();

    // The Redfish-only machine's enlist agent reads no BMC in-band: the SMBIOS UUID alone matches.
    const claimed = await enlist(inventory('52:54:00:00:20:01', undefined, 'C0E0B0C0-0000-4000-8000-0000000000a1'));
    expect(claimed.statusCode, claimed.body).toBe(200);
    expect(claimed.json()).toMatchObject({ id, state: 'Commissioning', created: false });
    expect(store.machines.get(id)).toMatchObject({ bootMac: '52:54:00:00:20:01', uuid: systemUuid, state: 'Commissioning', timer: { name: 'commissioning' } });
    await appliance.service.powerSettled(id);
    expect(redfish.actions).toEqual(['on', 'cycle']);
    expect(timeline(id)).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^enlisted: .*boot MAC 52:54:00:00:20:01, matched by its system UUID ${systemUuid}, as its BMC reported$`)),
      'state: New -> Commissioning',
    ]));
    // Claimed once: the same UUID from another NIC is the same machine, now past New: refused.
    expect((await enlist(inventory('52:54:00:00:20:03', undefined, systemUuid))).statusCode).toBe(409);
    expect(store.machines.get(id)?.bootMac).toBe('52:54:00:00:20:01');
  });

  // Some BMCs give the SMBIOS UUID with its first three fields byte-swapped (SMBIOS 2.6 §7.2.1): no
  // UUID match then, but the address matches, and the machine's own UUID is the one kept.
  test('claimed by the BMC address while reporting another UUID than its BMC did: the machine\'s UUID is kept, and said', async () => {
    redfish.uuid = 'c0b0e0c0-0000-0040-8000-0000000000a1';
    const { id } = (await add({ power: redfishPower('https://10.0.0.7:8443') })).json() as { id: string };
    await appliance.service.powerSettled(id);
    expect(store.machines.get(id)?.uuid).toBe('c0b0e0c0-0000-0040-8000-0000000000a1');
    const claimed = await enlist(inventory('52:54:00:00:20:01', '10.0.0.7', systemUuid));
    expect(claimed.json()).toMatchObject({ id, state: 'Commissioning' });
    expect(store.machines.get(id)?.uuid).toBe(systemUuid);
    expect(timeline(id)).toContainEqual(expect.stringMatching(new RegExp(
      `^enlisted: .*matched by its BMC at 10\\.0\\.0\\.7; it reports system UUID ${systemUuid}, its BMC reported c0b0e0c0-0000-0040-8000-0000000000a1: the machine's kept$`)));
  });

  test('by system UUID, a locked waiting machine is refused, not claimed', async () => {
    redfish.uuid = systemUuid;
    const { id } = (await add({ power: redfishPower('10.0.0.7') })).json() as { id: string };
    await appliance.service.powerSettled(id);
    expect((await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/actions/lock`, headers: auth })).statusCode).toBe(200);
    const refused = await enlist(inventory('52:54:00:00:20:01', undefined, systemUuid));
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/added by its BMC with this system UUID, and locked/);
    expect(store.machines.get(id)).toMatchObject({ bootMac: null, state: 'New' });
    expect(store.machines.byMac('52:54:00:00:20:01')).toBeUndefined();
    expect(timeline(id)).toContainEqual(expect.stringMatching(/^enlist-refused: from boot MAC 52:54:00:00:20:01: .*locked/));
  });

  test('a UUID another machine has is not stored on the waiting record; a BMC that cannot tell is a note, and the power-on goes ahead', async () => {
    expect((await enlist(inventory('52:54:00:00:20:09', undefined, systemUuid))).statusCode).toBe(201);
    const owner = store.machines.byMac('52:54:00:00:20:09')!;
    redfish.uuid = systemUuid;
    const { id } = (await add({ power: redfishPower('10.0.0.7') })).json() as { id: string };
    await appliance.service.powerSettled(id);
    expect(store.machines.get(id)?.uuid).toBeNull();
    expect(timeline(id)).toContain(`note: its BMC reports system UUID ${systemUuid}, which machine ${owner.id} (${owner.hostname}) already has; `
      + 'not stored: it can be matched only by the BMC address it reports when it enlists');

    redfish.uuidFailure = 'HTTP 500 from the BMC (user root, password redfish-secret)';
    const failing = (await add({ power: redfishPower('10.0.0.8') })).json() as { id: string };
    await appliance.service.powerSettled(failing.id);
    // Not the power error state: the BMC's power works, and the address can still match.
    expect(store.machines.get(failing.id)).toMatchObject({ uuid: null, state: 'New', powerState: 'unknown', powerError: '' });
    expect(redfish.actions).toEqual(['on', 'on']);
    expect(timeline(failing.id)).toContain('power: on (redfish)');
    expect(timeline(failing.id)).toContain('note: system UUID not read from its BMC (HTTP 500 from the BMC (user root, password (secret))): '
      + 'it can be matched only by the BMC address it reports when it enlists');
    expect(JSON.stringify(store.events.forMachine(failing.id))).not.toContain('redfish-secret');
  });

  test('a machine that never enlists is powered off again with the reason, and survives a restart as it was', async () => {
    const { id } = (await add({ power: bmcPower('10.0.0.5') })).json() as { id: string };
    expect(store.machines.get(id)?.timer).toMatchObject({ name: 'enlisting', deadline: clock + 600_000 });
    await appliance.service.powerSettled(id);
    clock += 601_000;
    appliance.service.start(); // re-arms stored timers, as after a restart: this one is due
    await vi.waitFor(() => expect(store.machines.get(id)?.timer).toBeNull());
    await appliance.service.powerSettled(id);
    expect(bmc.actions).toEqual(['on', 'off']);
    const machine = store.machines.get(id)!;
    expect(machine).toMatchObject({ state: 'New', bootMac: null });
    expect(machine.statusMessage).toMatch(/^did not enlist within 600 s of being powered on through its BMC at 10\.0\.0\.5: check that it boots from the network/);
    expect(timeline(id).slice(-2)).toEqual([expect.stringMatching(/^note: did not enlist within 600 s.*; powering off$/), 'power: off (ipmi)']);
    // Still the record of that BMC: a late first boot is claimed all the same.
    expect((await enlist(inventory('52:54:00:00:20:01', '10.0.0.5'))).json()).toMatchObject({ id, state: 'Commissioning' });
  });
});
