// The redfish power driver against a real Redfish service: sushy-tools with its libvirt driver in
// front of a QEMU/TCG domain run by a libvirtd of our own (test/interop/support/redfish-lab.ts). The
// driver verifies the emulator's certificate against the pinned CA (caCert), discovers the one
// system, reads PowerState, sends the resets, and sets the one-time network boot; every effect is
// checked on the domain itself through virsh; a UEFI boot mode left out where the system has none; the
// system UUID read. Then: a wrong password, TLS verification without the CA, and a system id that does
// not exist.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { httpCall } from '../../src/power/https-client.js';
import { PowerError, RedfishPowerDriver, type PowerState, type RedfishSettings } from '../../src/power/index.js';
import { tempDir } from '../support/fixtures.js';
import { untilPowerState } from '../support/power.js';
import { domainName, domainUuid, redfishLabMissing, startRedfishLab, type RedfishLab } from './support/redfish-lab.js';

const missing = redfishLabMissing();
if (missing) console.warn(`test/interop/redfish-power.test.ts skipped: ${missing}`);

/** sushy-tools answers a reset before libvirt has carried it out: read until the state is `want`. */
const until = (driver: RedfishPowerDriver, want: PowerState) => untilPowerState(driver, want, 20_000, 200);

describe.skipIf(missing !== undefined)('redfish power driver against sushy-tools + libvirt + QEMU/TCG', () => {
  let dir: ReturnType<typeof tempDir>;
  let lab: RedfishLab | undefined;
  const settings = (over: Partial<RedfishSettings> = {}): RedfishSettings => ({
    address: lab!.url, user: lab!.user, password: lab!.password, caCert: lab!.certificate, ...over,
  });
  const domstate = () => lab!.virsh('domstate', domainName).trim();
  const domid = () => lab!.virsh('domid', domainName).trim();

  beforeAll(async () => {
    dir = tempDir('nb-redfish-');
    lab = await startRedfishLab(dir.path);
  }, 60_000);

  afterAll(async () => {
    try {
      await lab?.stop();
    } finally {
      dir?.cleanup();
    }
  }, 30_000);

  test('status, one-time network boot, on, cycle, soft, off, cycle from off (certificate verified against the pinned CA)', async () => {
    const driver = new RedfishPowerDriver(settings());
    expect(await driver.query()).toBe('off');

    await driver.setNextBootNetwork();
    // sushy-tools puts the NIC first in the domain's boot order (and reads "Once" back as "Continuous").
    expect(lab!.virsh('dumpxml', domainName)).toMatch(/<interface type='ethernet'>[\s\S]*<boot order='1'\/>[\s\S]*<\/interface>/);

    await driver.on();
    await until(driver, 'on');
    expect(domstate()).toBe('running');
    const firstRun = domid();

    await driver.cycle(); // ForceRestart: libvirt destroys and starts the domain again
    await until(driver, 'on');
    expect(domid()).not.toBe(firstRun);

    await driver.soft(); // GracefulShutdown: ACPI; SeaBIOS without an OS ignores it
    expect(await driver.query()).toBe('on');

    await driver.off();
    await until(driver, 'off');
    expect(domstate()).toBe('shut off');
    await driver.off(); // already off: nothing is sent

    await driver.cycle(); // from off: On
    await until(driver, 'on');
    await driver.off();
    await until(driver, 'off');
  }, 90_000);

  test('a UEFI machine\'s one-time network boot where the system reports no BootSourceOverrideMode: the mode is left out and the override works', async () => {
    const driver = new RedfishPowerDriver(settings({ systemId: domainUuid }));
    const answer = await httpCall({
      method: 'GET', url: new URL(`/redfish/v1/Systems/${domainUuid}`, lab!.url), timeoutMs: 10_000, tls: { verify: true, caCert: lab!.certificate },
      headers: { Authorization: `Basic ${Buffer.from(`${lab!.user}:${lab!.password}`).toString('base64')}` },
    });
    // This domain's <os> names no firmware, so sushy-tools 2b51921 reports no boot mode at all.
    expect((JSON.parse(answer.text) as { Boot: Record<string, unknown> }).Boot).not.toHaveProperty('BootSourceOverrideMode');
    await driver.setNextBootNetwork('uefi');
    const xml = lab!.virsh('dumpxml', domainName);
    expect(xml).toMatch(/<interface type='ethernet'>[\s\S]*<boot order='1'\/>[\s\S]*<\/interface>/);
    expect(xml).not.toMatch(/<loader/); // no mode was sent: libvirt did not turn the domain into a UEFI one
  });

  test('the system can be named by its id', async () => {
    expect(await new RedfishPowerDriver(settings({ systemId: domainUuid })).query()).toBe('off');
    const error = await new RedfishPowerDriver(settings({ systemId: 'no-such-system' })).query().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    // A real BMC answers 404; sushy-tools 2b51921 with Debian's python3-libvirt answers 500 with its own
    // bug's message ("'function' object has no attribute 'NotFound'"). Either way the error names the system.
    expect((error as Error).message).toMatch(/Redfish GET \/redfish\/v1\/Systems\/no-such-system at 127\.0\.0\.1:\d+: HTTP (404|500)/);
  });

  test('the system UUID, as a machine added by its BMC alone is matched by: the domain\'s SMBIOS UUID, lowercase', async () => {
    // sushy-tools reports libvirt's <uuid>, which QEMU gives the guest as its SMBIOS system UUID.
    expect(await new RedfishPowerDriver(settings()).systemUuid()).toBe(domainUuid.toLowerCase());
  });

  test('a wrong password is a clear PowerError without the password', async () => {
    const error = await new RedfishPowerDriver(settings({ password: 'Wrong-Redfish-1' })).query().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/the BMC refused user admin or the password \(401\)/);
    expect((error as Error).message).not.toContain('Wrong-Redfish-1');
  });

  test('TLS: unverified by default works; verification without the CA fails and says what to do', async () => {
    const { caCert: _ca, ...plain } = settings();
    expect(await new RedfishPowerDriver(plain).query()).toBe('off');
    const error = await new RedfishPowerDriver({ ...plain, verifyTls: true }).query().then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/self-signed certificate.*give the BMC's CA certificate as caCert/);
  });
});
