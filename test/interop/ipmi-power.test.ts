// The ipmi power driver against a real IPMI 2.0 LAN BMC: OpenIPMI's ipmi_sim on loopback, driven
// through Debian's ipmitool exactly as the appliance runs it (test/interop/support/ipmi-sim.ts). The
// "machine" behind the BMC is a sleep process: the power is on while it lives. Covers on, off,
// cycle (from off and from on), soft, next boot from the network (legacy and UEFI), a wrong password, a BMC that
// nothing answers for, a BMC that dies mid-command, and, through the appliance, the poll that
// turns a failure into power state `error` and clears it at the next good answer.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { IpmiPowerDriver, PowerError, type IpmiSettings, type PowerState } from '../../src/power/index.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';
import { tempDir } from '../support/fixtures.js';
import { untilPowerState } from '../support/power.js';
import { freeUdpPort, startIpmiSim, type IpmiSim } from './support/ipmi-sim.js';

const missing = ['/usr/bin/ipmi_sim', '/usr/bin/ipmitool'].filter((path) => {
  try {
    accessSync(path, constants.X_OK);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) console.warn(`test/interop/ipmi-power.test.ts skipped: missing ${missing.join(', ')} (scripts/install-deps.sh)`);

/** Reads the power state until it is `want` (ipmi_sim answers an action before the machine changed). */
const until = (driver: IpmiPowerDriver, want: PowerState) => untilPowerState(driver, want, 5000);

describe.skipIf(missing.length > 0)('ipmi power driver against ipmi_sim over RMCP+ (ipmitool lanplus)', () => {
  let dir: ReturnType<typeof tempDir>;
  let sim: IpmiSim | undefined;
  const settings = (over: Partial<IpmiSettings> = {}): IpmiSettings => ({
    address: '127.0.0.1', port: sim!.port, user: sim!.user, password: sim!.password, ...over,
  });

  beforeAll(async () => {
    dir = tempDir('nb-ipmi-');
    sim = await startIpmiSim(join(dir.path, 'bmc'));
  });

  afterAll(async () => {
    try {
      await sim?.stop();
    } finally {
      dir.cleanup();
    }
  });

  test('status, next boot from the network, on, off, cycle from off and from on, soft', async () => {
    const driver = new IpmiPowerDriver(settings());
    expect(await driver.query()).toBe('off');
    await driver.setNextBootNetwork();
    await driver.on();
    await until(driver, 'on');
    // The chassis program starts the machine with the one-time boot device the BMC was given.
    await vi.waitFor(() => expect(sim!.lastBootArgs()).toBe('-boot once=n'), { timeout: 5000 });
    await driver.on(); // already on: the BMC accepts it, nothing changes
    await driver.off();
    await until(driver, 'off');

    await driver.cycle(); // from off: a plain power-on (IPMI does not define cycle from off)
    await until(driver, 'on');
    await vi.waitFor(() => expect(sim!.lastBootArgs()).toBe(''), { timeout: 5000 }); // the pxe flag was used up by the first power-on
    const before = sim!.machinePid();
    await driver.cycle();
    // ipmi_sim answers at once and cycles afterwards (off, 1 s poll, on): wait for the new "machine".
    for (let i = 0; i < 50 && sim!.machinePid() === before; i++) await new Promise((r) => setTimeout(r, 100));
    await until(driver, 'on');
    expect(sim!.machinePid()).not.toBe(before); // a new "machine": it started again from its firmware

    await driver.soft(); // the ACPI button: accepted; a sleep has no OS to act on it, so it stays on
    expect(await driver.query()).toBe('on');
    await driver.off();
    await until(driver, 'off');
  });

  test('next boot from the network for a UEFI machine: the EFI boot flag is accepted and PXE reaches the machine', async () => {
    const driver = new IpmiPowerDriver(settings());
    expect(await driver.query()).toBe('off');
    // `bootdev pxe options=efiboot` (boot flags byte 1 bit 5). ipmi_sim 2.0.33 keeps only the device
    // selector (`chassis bootparam get 5`: 00 04 00 00 00), so the bit itself is checked in
    // test/power/boot-mode.test.ts; here: a BMC that does not know the bit still takes the command.
    await driver.setNextBootNetwork('uefi');
    await driver.on();
    await until(driver, 'on');
    await vi.waitFor(() => expect(sim!.lastBootArgs()).toBe('-boot once=n'), { timeout: 5000 });
    await driver.off();
    await until(driver, 'off');
  });

  test('a wrong password is a clear PowerError that never holds the password', async () => {
    const driver = new IpmiPowerDriver(settings({ password: 'Wrong-Pass-99' }));
    const error = await driver.query().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/IPMI chassis power status at 127\.0\.0\.1:\d+ \(user netboot\): the BMC refused the password/);
    expect((error as Error).message).not.toContain('Wrong-Pass-99');
    const unknownUser = await new IpmiPowerDriver(settings({ user: 'nobody' })).on().then(() => undefined, (e: unknown) => e);
    expect((unknownUser as Error).message).toMatch(/the BMC does not know this user/);
  });

  test('a BMC nothing answers for fails within a bounded time, saying so', async () => {
    const port = await freeUdpPort();
    const started = Date.now();
    const error = await new IpmiPowerDriver(settings({ port })).query().then(() => undefined, (e: unknown) => e);
    const tookMs = Date.now() - started;
    expect((error as Error).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} .*no answer from the BMC`));
    expect(tookMs).toBeLessThan(15_000); // ipmitool -N 2 -R 3, measured ~8 s; our kill deadline is 15 s
  }, 30_000);

  test('a BMC that dies in the middle of a command is a PowerError, not a hang', async () => {
    const own = await startIpmiSim(join(dir.path, 'dying'));
    try {
      own.slowPower(true); // the chassis program stalls on `set power`, ipmi_sim with it
      const driver = new IpmiPowerDriver({ address: '127.0.0.1', port: own.port, user: own.user, password: own.password }, { timeoutMs: 12_000 });
      const started = Date.now();
      const outcome = driver.on().then(() => 'done', (e: unknown) => e);
      await new Promise((r) => setTimeout(r, 500));
      await own.stop(); // killed by its PID while ipmitool waits for the answer
      const error = await outcome;
      expect(error).toBeInstanceOf(PowerError);
      expect((error as Error).message).toMatch(/IPMI chassis power on at 127\.0\.0\.1:\d+/);
      expect(Date.now() - started).toBeLessThan(13_000);
    } finally {
      await own.stop();
    }
  }, 30_000);
});

describe.skipIf(missing.length > 0)('ipmi through the appliance: actions, the poll, power state error and back', () => {
  let dir: ReturnType<typeof tempDir>;
  let sim: IpmiSim | undefined;
  let app: TestAppliance | undefined;
  const auth = { authorization: `Bearer ${operatorToken}` };

  beforeAll(async () => {
    dir = tempDir('nb-ipmi-app-');
    sim = await startIpmiSim(join(dir.path, 'bmc'));
    app = await testAppliance({ config: { 'power.pollIntervalSeconds': 0 } });
  });

  afterEach(async () => app?.service.powerSettled('any'));

  afterAll(async () => {
    try {
      await app?.dispose();
      await sim?.stop();
    } finally {
      dir.cleanup();
    }
  });

  test('commissioning sets next boot to the network, cycles the machine; the poll reads on, then error when the BMC is gone, then clears it', async () => {
    const power = { type: 'ipmi', address: '127.0.0.1', port: sim!.port, user: sim!.user, password: sim!.password };
    const added = await app!.apiApp!.inject({ method: 'POST', url: '/api/v1/machines', headers: auth, payload: { mac: '52:54:00:14:00:01', power } });
    expect(added.statusCode, added.body).toBe(201);
    const id = added.json<{ id: string }>().id;
    await app!.service.powerSettled(id);
    const timeline = () => app!.store.events.forMachine(id).map((e) => `${e.type} ${e.detail}`).join('\n');
    // bootdev pxe, then the cycle (from off: on); the "machine" writes its arguments once it runs.
    await vi.waitFor(() => expect(sim!.lastBootArgs(), timeline()).toBe('-boot once=n'), { timeout: 5000 });

    await app!.service.pollPower();
    const machine = () => app!.store.machines.get(id)!;
    expect(machine()).toMatchObject({ powerState: 'on', powerError: '' });

    await sim!.stop();
    await app!.service.pollPower();
    expect(machine().powerState).toBe('error');
    expect(machine().powerError).toMatch(/no answer from the BMC/);
    const view = await app!.apiApp!.inject({ method: 'GET', url: `/api/v1/machines/${id}`, headers: auth });
    expect(view.json()).toMatchObject({ powerState: 'error', powerError: expect.stringMatching(/no answer from the BMC/) });

    sim = await startIpmiSim(join(dir.path, 'bmc'), { port: sim!.port }); // the BMC is back (machine off: a new BMC process)
    await app!.service.pollPower();
    expect(machine()).toMatchObject({ powerState: 'off', powerError: '' });
    const states = app!.store.events.forMachine(id).filter((e) => e.type === 'power-state').map((e) => e.detail);
    expect(states).toEqual(['on', expect.stringMatching(/^error: .*no answer from the BMC/), expect.stringMatching(/^off \(was error: /)]);
    for (const event of app!.store.events.forMachine(id)) expect(event.detail).not.toContain(sim!.password);
  }, 60_000);
});
