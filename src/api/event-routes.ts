// A machine's timeline: past events as JSON, and a live stream (Server-Sent Events) that
// `netboot machines watch` prints as it happens.
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { MachineEvent } from '../machines/model.js';
import { Closed, Id as MachineKey } from '../schemas.js';
import type { ApiDeps } from './app.js';

const Id = Closed({ id: MachineKey });
/** Comment lines keep proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/** When a watcher that stopped reading is dropped (code review item 10). */
export interface StreamLimits {
  /** How long its socket may stay un-drained after a write was refused. */
  readonly drainTimeoutMs: number;
  /** Bytes queued in user space beyond which it is dropped at once (a fast event storm). */
  readonly maxBufferedBytes: number;
}

export const defaultStreamLimits: StreamLimits = { drainTimeoutMs: 30_000, maxBufferedBytes: 1024 * 1024 };

export const eventRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  const limits = deps.streamLimits ?? defaultStreamLimits;
  // Hijacked responses are invisible to fastify's close: without this an open `machines watch`
  // keeps app.close() (and SIGTERM) waiting for as long as the watcher stays (probe F5).
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of open) {
      // `connection: close` below: the socket closes once the end is flushed. One that cannot
      // flush (a watcher not reading) is destroyed.
      if (raw.writableNeedDrain) raw.destroy();
      else raw.end();
    }
  });

  app.get('/machines/:id/events', { schema: { params: Id } }, async (request) => {
    const machine = deps.service.get((request.params as Static<typeof Id>).id);
    return deps.store.events.forMachine(machine.id);
  });

  app.get('/machines/:id/events/stream', { schema: { params: Id } }, (request, reply) => {
    const machine = deps.service.get((request.params as Static<typeof Id>).id);
    const macs = new Set([machine.bootMac, ...(machine.inventory?.nics.map((n) => n.mac) ?? [])]);
    reply.hijack();
    const raw = reply.raw;
    // A stream is never reused for another request: close the connection when it ends.
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'close' });
    raw.flushHeaders(); // the watcher knows it is connected even before the first event
    open.add(raw);
    let stalled: NodeJS.Timeout | undefined;
    const drop = () => {
      request.log.info({ machine: machine.id, buffered: raw.writableLength }, 'event stream dropped: the watcher is not reading');
      raw.destroy();
    };
    const write = (text: string) => {
      if (raw.destroyed || raw.writableEnded || raw.write(text)) return;
      if (raw.writableLength > limits.maxBufferedBytes) return drop();
      if (stalled) return;
      stalled = setTimeout(drop, limits.drainTimeoutMs);
      raw.once('drain', () => {
        clearTimeout(stalled);
        stalled = undefined;
      });
    };
    const send = (event: MachineEvent) => write(`id: ${event.id}\nevent: machine\ndata: ${JSON.stringify(event)}\n\n`);
    // The past first (so a watcher sees the run so far), then what happens.
    let last = 0;
    for (const event of deps.store.events.forMachine(machine.id)) {
      send(event);
      last = event.id;
    }
    const unsubscribe = deps.store.events.subscribe((event) => {
      if (event.id > last && (event.machineId === machine.id || macs.has(event.mac))) send(event);
    });
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    raw.on('close', () => {
      open.delete(raw);
      clearInterval(heartbeat);
      clearTimeout(stalled);
      unsubscribe();
    });
  });
};
