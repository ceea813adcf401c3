// Operator power actions through the API (POST /machines/:id/power/:action): on, off, cycle and
// soft (the ACPI power button) are queued behind the machine's power work and answered at once with
// 202; the outcome lands on the timeline. Refused: an unknown action (400), a locked machine and soft
// on a driver without an ACPI button (409). The appliance is the real graph; the "BMC" is the shared
// fake driver for type ipmi.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import type { Store } from '../../src/store/index.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';
import { FakePowerDriver } from '../support/power.js';

const auth = { authorization: `Bearer ${operatorToken}` };
const ipmi = { type: 'ipmi', address: '10.0.0.5', user: 'netboot', password: 'pw' };

describe('power actions over the API', () => {
  let appliance: TestAppliance;
  let bmc: FakePowerDriver;
  const api = (): FastifyInstance => appliance.apiApp!;
  const store = (): Store => appliance.store;

  beforeEach(async () => {
    bmc = new FakePowerDriver();
    const powerDriver = (settings: { readonly type: string }) => settings.type === 'ipmi' ? bmc : createPowerDriver(parsePowerSettings(settings));
    appliance = await testAppliance({ powerDriver, config: { 'power.pollIntervalSeconds': 0 } });
  });

  afterEach(() => appliance.dispose());

  /** A Ready machine with the given power settings (the life-cycle is tested elsewhere). */
  const ready = (power: { type: string; [k: string]: unknown }) => {
    const { id } = store().machines.create({ bootMac: '52:54:00:15:00:01', power });
    store().machines.update(id, { state: 'Ready', commissioned: true });
    return id;
  };
  const power = (id: string, action: string) => api().inject({ method: 'POST', url: `/api/v1/machines/${id}/power/${action}`, headers: auth });
  const timeline = (id: string) => store().events.forMachine(id).map((e) => `${e.type}: ${e.detail}`);

  test.each(['on', 'off', 'cycle', 'soft'] as const)('%s: 202 with the machine, then the driver acts and the timeline says so', async (action) => {
    const id = ready(ipmi);
    const answer = await power(id, action);
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toMatchObject({ id, state: 'Ready' });
    await appliance.service.powerSettled(id);
    expect(bmc.actions).toEqual([action]);
    expect(timeline(id)).toContainEqual(`power: ${action} (ipmi)`);
    expect(store().machines.get(id)?.state).toBe('Ready'); // the life-cycle is not an operator power action's business
  });

  test('soft on a driver without an ACPI power button is 409, and nothing is queued', async () => {
    const id = ready({ type: 'manual' });
    const answer = await power(id, 'soft');
    expect(answer.statusCode).toBe(409);
    expect(answer.json().message).toMatch(/power type 'manual' has no soft power-off \(ACPI power button\): use off/);
    expect(timeline(id).filter((e) => e.startsWith('power'))).toEqual([]);
  });

  test('a locked machine refuses power actions (409); an unknown action is 400', async () => {
    const id = ready(ipmi);
    store().machines.update(id, { locked: true });
    const locked = await power(id, 'soft');
    expect(locked.statusCode).toBe(409);
    expect(locked.json().message).toMatch(/is locked/);
    expect((await power(id, 'reset')).statusCode).toBe(400);
    await appliance.service.powerSettled(id);
    expect(bmc.actions).toEqual([]);
  });

  test('a failed soft-off is power-failed on the timeline and powerState error', async () => {
    const id = ready(ipmi);
    bmc.failures.soft = 'IPMI chassis power soft at 10.0.0.5:623 failed: Invalid data field in request';
    expect((await power(id, 'soft')).statusCode).toBe(202);
    await appliance.service.powerSettled(id);
    expect(timeline(id)).toContainEqual(expect.stringMatching(/^power-failed: soft: IPMI chassis power soft/));
    expect(store().machines.get(id)).toMatchObject({ powerState: 'error', powerError: expect.stringMatching(/^soft: /) });
  });
});
