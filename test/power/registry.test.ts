// The power-driver registry: one entry per driver, from which the API schema, the factory, the CLI's
// --power parser and the views are derived; views are allow-lists (code review 2026-12 item 6).
import { describe, expect, test } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { PowerSettingsSchema, createPowerDriver, parsePowerSettings, powerDrivers, publicPowerSettings } from '../../src/power/index.js';
import { parsePowerOption } from '../../src/cli/machine-actions.js';
import { machineView } from '../../src/api/machine-routes.js';
import { sampleMachine } from '../support/fixtures.js';

describe('power-driver registry', () => {
  test('every driver is in the API schema, closed, and has a CLI spelling that round-trips', () => {
    const union = PowerSettingsSchema.anyOf;
    expect(union.map((s) => s.properties.type.const).sort()).toEqual(powerDrivers.map((d) => d.type).sort());
    for (const driver of powerDrivers) {
      expect(driver.schema.additionalProperties, driver.type).toBe(false);
      const example = driver.type === 'qemu' ? 'qemu:/run/vm1.qmp' : driver.type;
      const settings = parsePowerOption(example);
      expect(Value.Check(PowerSettingsSchema, settings), driver.type).toBe(true);
      expect(createPowerDriver(parsePowerSettings(settings)).type).toBe(driver.type);
    }
  });

  test('an unknown driver is refused with the list of known ones', () => {
    expect(() => parsePowerOption('ipmi:10.0.0.5')).toThrow(/use qemu:<absolute path of the QMP socket> or manual/);
    expect(() => parsePowerSettings({ type: 'ipmi' })).toThrow(/one of 'qemu', 'manual', got "ipmi"/);
  });

  test('views list fields by name: a field nobody listed never shows (a stored password, the run token, user-data)', () => {
    const stored = { type: 'qemu', socket: '/run/vm.qmp', password: 'hunter2-secret' };
    expect(publicPowerSettings(stored)).toEqual({ type: 'qemu', socket: '/run/vm.qmp' });
    const view = JSON.stringify(machineView(sampleMachine({ power: stored, token: 'run-token-secret', userData: '#cloud-config\npassword: s3cret\n' })));
    for (const secret of ['hunter2-secret', 'run-token-secret', 's3cret']) expect(view).not.toContain(secret);
    expect(JSON.parse(view)).toMatchObject({ hasUserData: true, power: { type: 'qemu', socket: '/run/vm.qmp' } });
  });
});
