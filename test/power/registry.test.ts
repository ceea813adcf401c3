// The power-driver registry: one entry per driver, from which the API schema, the factory, the CLI's
// --power parser and the views are derived; views are allow-lists (code review 2026-12 item 6).
import { describe, expect, test } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { PowerSettingsSchema, createPowerDriver, parsePowerSettings, powerDrivers, publicPowerSettings } from '../../src/power/index.js';
import { parsePowerOption, type PowerFlags } from '../../src/cli/power-options.js';
import { machineView } from '../../src/api/machine-routes.js';
import { sampleMachine } from '../support/fixtures.js';

/** One working `--power` with its flags per driver. */
const cliExamples: Record<string, [string, PowerFlags]> = {
  qemu: ['qemu:/run/vm1.qmp', {}],
  manual: ['manual', {}],
  ipmi: ['ipmi:10.0.0.5', { user: 'netboot', password: 'pw' }],
  redfish: ['redfish', { address: 'https://10.0.0.6', user: 'admin', password: 'pw' }],
  webhook: ['webhook', { onUrl: 'http://pdu/on', offUrl: 'http://pdu/off', statusUrl: 'http://pdu/status' }],
};

describe('power-driver registry', () => {
  test('every driver is in the API schema, closed, and has a CLI spelling that round-trips', () => {
    const union = PowerSettingsSchema.anyOf;
    expect(union.map((s) => s.properties.type.const).sort()).toEqual(powerDrivers.map((d) => d.type).sort());
    for (const driver of powerDrivers) {
      expect(driver.schema.additionalProperties, driver.type).toBe(false);
      const [example, flags] = cliExamples[driver.type]!;
      const settings = parsePowerOption(example, flags);
      expect(Value.Check(PowerSettingsSchema, settings), driver.type).toBe(true);
      expect(createPowerDriver(parsePowerSettings(settings)).type).toBe(driver.type);
    }
  });

  test('an unknown driver is refused with the list of known ones', () => {
    expect(() => parsePowerOption('amt:10.0.0.5')).toThrow(/use qemu:<absolute path of the QMP socket> or manual or ipmi/);
    expect(() => parsePowerSettings({ type: 'amt' })).toThrow(/one of 'qemu', 'manual', 'ipmi', 'redfish', 'webhook', got "amt"/);
  });

  test('views list fields by name: a field nobody listed never shows (a stored password, the run token, user-data)', () => {
    const stored = { type: 'qemu', socket: '/run/vm.qmp', password: 'hunter2-secret' };
    expect(publicPowerSettings(stored)).toEqual({ type: 'qemu', socket: '/run/vm.qmp' });
    const view = JSON.stringify(machineView(sampleMachine({ power: stored, token: 'run-token-secret', userData: '#cloud-config\npassword: s3cret\n' })));
    for (const secret of ['hunter2-secret', 'run-token-secret', 's3cret']) expect(view).not.toContain(secret);
    expect(JSON.parse(view)).toMatchObject({ hasUserData: true, power: { type: 'qemu', socket: '/run/vm.qmp' } });
  });
});
