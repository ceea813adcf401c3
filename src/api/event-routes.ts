// A machine's timeline: past events as JSON, and a live stream (Server-Sent Events) that
// `netboot machines watch` prints as it happens.
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { MachineEvent } from '../machines/model.js';
import { Closed, Id as MachineKey } from '../schemas.js';
import type { ApiDeps } from './app.js';

const Id = Closed({ id: MachineKey });
/** Comment lines keep proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

export const eventRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  app.get('/machines/:id/events', { schema: { params: Id } }, async (request) => {
    const machine = deps.service.get((request.params as Static<typeof Id>).id);
    return deps.store.events.forMachine(machine.id);
  });

  app.get('/machines/:id/events/stream', { schema: { params: Id } }, (request, reply) => {
    const machine = deps.service.get((request.params as Static<typeof Id>).id);
    const macs = new Set([machine.bootMac, ...(machine.inventory?.nics.map((n) => n.mac) ?? [])]);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: MachineEvent) => raw.write(`id: ${event.id}\nevent: machine\ndata: ${JSON.stringify(event)}\n\n`);
    // The past first (so a watcher sees the run so far), then what happens.
    let last = 0;
    for (const event of deps.store.events.forMachine(machine.id)) {
      send(event);
      last = event.id;
    }
    const unsubscribe = deps.store.events.subscribe((event) => {
      if (event.id > last && (event.machineId === machine.id || macs.has(event.mac))) send(event);
    });
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
};
