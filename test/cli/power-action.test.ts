// `netboot machines power <on|off|cycle|soft> <machine>`: the CLI's real command, run in-process
// against the appliance's listening API on loopback (the "BMC" is the shared fake driver for type
// ipmi): it prints the machine, the action reaches the driver, and commander refuses an action that
// is not one of the four before anything is sent.
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { registerMachineCommands } from '../../src/cli/machines.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';
import { FakePowerDriver } from '../support/power.js';

describe('netboot machines power', () => {
  let app: TestAppliance;
  const bmc = new FakePowerDriver();
  const savedEnv = { ...process.env };
  let id = '';

  /** Runs `netboot <args>` in-process; returns what it printed. */
  async function cli(...args: string[]): Promise<string> {
    const program = new Command('netboot').option('--data-dir <dir>').option('-c, --config <file>').option('--log-level <level>')
      .exitOverride().configureOutput({ writeErr: () => undefined });
    registerMachineCommands(program);
    for (const command of program.commands) command.exitOverride().configureOutput({ writeErr: () => undefined });
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.map(String).join(' ')));
    try {
      await program.parseAsync(['--data-dir', `${app.dir}/data`, ...args], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    return printed.join('\n');
  }

  beforeAll(async () => {
    app = await testAppliance({
      powerDriver: (settings) => settings.type === 'ipmi' ? bmc : createPowerDriver(parsePowerSettings(settings)),
      config: { 'power.pollIntervalSeconds': 0 },
    });
    const listening = await app.listen();
    Object.assign(process.env, { NETBOOT_API_PORT: String(listening.apiAddress!.port), NETBOOT_API_TOKEN: operatorToken });
    ({ id } = app.store.machines.create({ bootMac: '52:54:00:16:00:01', hostname: 'node16', power: { type: 'ipmi', address: '10.0.0.5', user: 'u', password: 'pw' } }));
    app.store.machines.update(id, { state: 'Ready', commissioned: true });
  });

  afterAll(async () => {
    process.env = savedEnv;
    await app?.dispose();
  });

  test('soft, then off, by hostname: printed, and carried out in that order', async () => {
    expect(await cli('machines', 'power', 'soft', 'node16')).toMatch(new RegExp(`^${id} \\(node16\\): Ready`));
    await cli('machines', 'power', 'off', 'node16');
    await app.service.powerSettled(id);
    expect(bmc.actions).toEqual(['soft', 'off']);
  });

  test('--json prints the machine as JSON', async () => {
    const printed = await cli('machines', 'power', 'on', id, '--json');
    expect(JSON.parse(printed)).toMatchObject({ id, hostname: 'node16', state: 'Ready' });
    await app.service.powerSettled(id);
    expect(bmc.actions.at(-1)).toBe('on');
  });

  test('an action that is not on, off, cycle or soft is refused before anything is sent', async () => {
    const before = bmc.actions.length;
    await expect(cli('machines', 'power', 'reset', id)).rejects.toThrow(/'reset' is invalid for argument 'action'. Allowed choices are on, off, cycle, soft/);
    expect(bmc.actions).toHaveLength(before);
  });
});
