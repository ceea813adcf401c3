// POST /api/v1/machines/allocate through the appliance as `serve` builds it: one Ready machine that
// meets the constraints becomes Allocated, two requests never get the same one, and a refusal (409)
// names the constraint nothing met.
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../src/store/index.js';
import { sampleInventory } from '../support/fixtures.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';

const headers = { authorization: `Bearer ${operatorToken}` };
let appliance: TestAppliance;
let store: Store;
let api: FastifyInstance;

beforeEach(async () => {
  appliance = await testAppliance();
  ({ store } = appliance);
  api = appliance.apiApp!;
});

afterEach(async () => {
  await appliance.dispose();
});

function readyMachine(mac: string, cpu: number): string {
  const nic = { name: 'eth0', mac, driver: 'e1000', link: true, speedMbps: 1000 };
  const { machine } = store.machines.enlist(sampleInventory({ bootMac: mac, nics: [nic], cpu: { count: cpu, model: 'x' }, dmi: { ...sampleInventory().dmi, uuid: '' } }), () => undefined);
  store.machines.update(machine.id, { state: 'Ready', commissioned: true });
  return machine.id;
}
const allocate = (payload: object) => api.inject({ method: 'POST', url: '/api/v1/machines/allocate', headers, payload });

test('the smallest machine that meets the constraints is Allocated; the next request gets another', async () => {
  const small = readyMachine('52:54:00:00:01:01', 2);
  const big = readyMachine('52:54:00:00:01:02', 8);
  const first = await allocate({ cpu: 2 });
  expect(first.statusCode).toBe(200);
  expect(first.json()).toMatchObject({ id: small, state: 'Allocated' });
  expect((await allocate({ cpu: 2 })).json()).toMatchObject({ id: big, state: 'Allocated' });
  const none = await allocate({ cpu: 2 });
  expect(none.statusCode).toBe(409);
  expect(none.json()).toEqual({ error: 'NB_ERR_STATE_CONFLICT', message: 'no machine to allocate: no machine is Ready (commission one first)' });
  expect(store.events.forMachine(small).map((e) => e.detail)).toContain('Ready -> Allocated');
});

test('a refusal names the constraint; a named machine; bad input is a 400 that changes nothing', async () => {
  const id = readyMachine('52:54:00:00:01:03', 4);
  const refused = await allocate({ cpu: 64 });
  expect(refused.statusCode).toBe(409);
  expect(refused.json().message).toBe('no machine to allocate: none of the 1 available machines has at least 64 CPUs');
  for (const bad of [{ cpu: 0 }, { cpu: 1.5 }, { memoryMiB: -1 }, { tags: ['no spaces'] }, { colour: 'red' }]) {
    expect((await allocate(bad)).statusCode, JSON.stringify(bad)).toBe(400);
  }
  expect(store.machines.get(id)!.state).toBe('Ready');
  expect((await allocate({ name: 'nope' })).statusCode).toBe(404);
  expect((await allocate({ name: id, cpu: 4 })).json()).toMatchObject({ id, state: 'Allocated' });
});
