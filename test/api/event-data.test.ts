// Event data through the operator API: the timeline as JSON and the live stream (SSE) carry `data`.
import { afterEach, beforeEach, expect, test } from 'vitest';
import { get } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { MachineEvent } from '../../src/machines/model.js';
import type { Store } from '../../src/store/index.js';
import { sampleInventory } from '../support/fixtures.js';
import { operatorToken as token, testAppliance, type TestAppliance } from '../support/appliance.js';

const mac = sampleInventory().bootMac;
let appliance: TestAppliance;
let store: Store;
let api: FastifyInstance;
let machineId: string;

beforeEach(async () => {
  appliance = await testAppliance();
  store = appliance.store;
  api = appliance.apiApp!;
  machineId = store.machines.enlist(sampleInventory(), (id, macs) => store.events.adoptByMacs(id, macs)).machine.id;
});

afterEach(async () => {
  await appliance.dispose();
});

test('GET /machines/<id>/events returns each event\'s data', async () => {
  store.events.record({ mac, type: 'kernel', detail: 'range 0-', data: { bytes: 4096, ms: 3, start: 1_700_000_000_000, outcome: 'completed' } });
  const response = await api.inject({ url: `/api/v1/machines/${machineId}/events`, headers: { authorization: `Bearer ${token}` } });
  expect(response.statusCode).toBe(200);
  const kernel = (response.json() as MachineEvent[]).find((e) => e.type === 'kernel');
  expect(kernel).toMatchObject({ detail: 'range 0-', data: { bytes: 4096, ms: 3, start: 1_700_000_000_000, outcome: 'completed' } });
});

test('the live stream carries data, for past and new events', async () => {
  await api.listen({ host: '127.0.0.1', port: 0 });
  const { port } = api.server.address() as { port: number };
  store.events.record({ mac, type: 'tftp-sent', detail: 'ipxe.efi 10 B in 1 ms', data: { bytes: 10, ms: 1 } });
  store.events.flush();
  const events: MachineEvent[] = [];
  await new Promise<void>((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path: `/api/v1/machines/${machineId}/events/stream`, headers: { authorization: `Bearer ${token}` } }, (response) => {
      let text = '';
      let sentLive = false;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        const blocks = text.split('\n\n');
        text = blocks.pop()!;
        for (const block of blocks) {
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) events.push(JSON.parse(data) as MachineEvent);
        }
        if (!sentLive && events.some((e) => e.type === 'tftp-sent')) {
          sentLive = true;
          store.events.record({ mac, type: 'initrd', data: { bytes: 99, ms: 7, outcome: 'aborted' } });
        }
        if (events.some((e) => e.type === 'initrd')) {
          request.destroy();
          resolve();
        }
      });
    });
    request.on('error', reject);
  });
  expect(events.find((e) => e.type === 'tftp-sent')?.data).toEqual({ bytes: 10, ms: 1 });
  expect(events.find((e) => e.type === 'initrd')?.data).toEqual({ bytes: 99, ms: 7, outcome: 'aborted' });
});
