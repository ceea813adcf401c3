// netboot's boot-side HTTP app (src/http-boot: the file route, Range, HEAD, ETag, the timeline event
// and the download metrics) as its own process for bench.ts, serving one file as a rootfs by its id:
//   node <compiled>/bench/http/netboot-server.js FILE ID HOST PORT
// As the appliance wires it (appliance.ts), minus the store: timeline events are counted, not written.
// On SIGTERM it prints one JSON line: the downloads recorded, by outcome, and their octets.
import pino from 'pino';
import { PromMetrics } from '../../src/api/index.js';
import { buildBootApp } from '../../src/http-boot/index.js';
import { sendfileUnavailable } from '../../src/http-boot/sendfile-body.js';
import { listenHttp } from '../../src/http-listen.js';

const [path, id, host, port] = process.argv.slice(2).filter((a) => a !== '--');
if (!path || !id || !host || !port) {
  console.error('usage: netboot-server.js FILE ID HOST PORT');
  process.exit(2);
}
const recorded = { completed: 0, aborted: 0, completedBytes: 0, abortedBytes: 0 };
const app = buildBootApp({
  booter: { bootSpec: async () => null },
  files: { fileById: (wanted) => (wanted === id ? { id, role: 'rootfs', path } : undefined) },
  events: {
    record: (event) => {
      const outcome = event.data?.outcome === 'completed' ? 'completed' : 'aborted';
      recorded[outcome]++;
      recorded[`${outcome}Bytes`] += Number(event.data?.bytes ?? 0);
    },
  },
  metrics: new PromMetrics(false),
  publicUrl: `http://${host}:${port}`,
  log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  loaders: {},
  // As without DHCP of our own: every download names its machine with ?mac=.
  auth: { binding: false, macOf: () => undefined, mayUseToken: () => true },
});
// maxConnections: the config default (src/config/schema.ts).
await listenHttp(app, { name: 'bench', hostKey: 'host', portKey: 'port', host, port: Number(port), maxConnections: 1024 });
console.log(`listening on ${host}:${port}`);
const why = sendfileUnavailable();
console.log(`body: ${why ? `send's read stream (${why})` : 'sendfile(2) where the connection is plain TCP'}`);
const stop = async (): Promise<void> => {
  await app.close();
  console.log(JSON.stringify(recorded));
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
