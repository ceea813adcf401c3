// The manual driver, the settings schema and the driver factory (no QEMU; see qemu.test.ts).
import { describe, expect, test } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ValidationError, errorCatalogue } from '../../src/errors.js';
import {
  ManualPowerDriver, PowerError, QemuPowerDriver, createPowerDriver, parsePowerSettings, powerStateOf,
} from '../../src/power/index.js';

describe('manual driver', () => {
  test('on/off/cycle only tell the operator what to do; query is unknown', async () => {
    const lines: Array<{ msg: string; machine?: string; power?: string }> = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const driver = createPowerDriver({ type: 'manual' }, { machine: 'nb-abc234 (52:54:00:12:34:56)', log: pino(sink) });
    expect(driver).toBeInstanceOf(ManualPowerDriver);
    expect(driver.type).toBe('manual');
    await driver.on();
    await driver.off();
    await driver.cycle();
    expect(await driver.query()).toBe('unknown');
    expect(lines.map((l) => [l.power, l.msg])).toEqual([
      ['on', "power on machine nb-abc234 (52:54:00:12:34:56) by hand (power type 'manual': netboot cannot switch it)"],
      ['off', "power off machine nb-abc234 (52:54:00:12:34:56) by hand (power type 'manual': netboot cannot switch it)"],
      ['cycle', "power-cycle machine nb-abc234 (52:54:00:12:34:56) by hand: switch it off, then on again (power type 'manual': netboot cannot switch it)"],
    ]);
  });

  test('without a logger or a machine name it still works and says "the machine"', async () => {
    const driver = new ManualPowerDriver();
    await expect(driver.on()).resolves.toBeUndefined();
    expect(driver.instructions('off')).toMatch(/^power off the machine by hand/);
  });
});

describe('settings', () => {
  const cases = [
    { name: 'manual', input: { type: 'manual' }, want: { type: 'manual' } },
    { name: 'qemu', input: { type: 'qemu', socket: '/run/netboot/vm1.qmp' }, want: { type: 'qemu', socket: '/run/netboot/vm1.qmp' } },
  ];
  test.each(cases)('$name is accepted', ({ input, want }) => {
    expect(parsePowerSettings(input)).toEqual(want);
  });

  const bad = [
    { name: 'unknown type', input: { type: 'amt' }, want: /power type must be one of 'qemu', 'manual', 'ipmi', 'redfish', 'webhook', got "amt"/ },
    { name: 'ipmi without credentials', input: { type: 'ipmi', address: '10.0.0.5' }, want: /invalid ipmi power settings: \/user: Expected required property/ },
    { name: 'not an object', input: null, want: /power type must be/ },
    { name: 'qemu without socket', input: { type: 'qemu' }, want: /invalid qemu power settings: \/socket/ },
    { name: 'relative socket', input: { type: 'qemu', socket: 'vm.qmp' }, want: /\/socket: Expected string to match/ },
    { name: 'socket path too long for a unix socket', input: { type: 'qemu', socket: `/${'x'.repeat(120)}` }, want: /\/socket/ },
    { name: 'extra property', input: { type: 'manual', socket: '/x' }, want: /invalid manual power settings/ },
  ];
  test.each(bad)('$name is a ValidationError', ({ input, want }) => {
    expect(() => parsePowerSettings(input)).toThrow(ValidationError);
    expect(() => parsePowerSettings(input)).toThrow(want);
  });

  test('createPowerDriver picks the driver by type', () => {
    const driver = createPowerDriver({ type: 'qemu', socket: '/run/netboot/vm1.qmp' }, { timeoutMs: 1000 });
    expect(driver).toBeInstanceOf(QemuPowerDriver);
    expect(driver.type).toBe('qemu');
  });
});

test('QMP run states map to power states', () => {
  expect(['running', 'shutdown', 'paused', 'prelaunch', 'guest-panicked', 'internal-error'].map(powerStateOf))
    .toEqual(['on', 'off', 'off', 'off', 'unknown', 'unknown']);
});

test('PowerError is in the catalogue with its own code and a 502 status', () => {
  const error = new PowerError('x');
  expect(error.code).toBe('NB_ERR_POWER_FAILED');
  expect(error.statusCode).toBe(502);
  expect(errorCatalogue).toContain(PowerError);
});
