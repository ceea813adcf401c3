// Runs the DHCP server alone, for captures against real firmware inside the namespace that
// testdata/dhcp/capture/capture.sh creates (bridge address 10.213.7.1/24):
//   testdata/dhcp/capture/capture.sh OUT.pcap 40 node node_modules/vite-node/vite-node.mjs test/dhcp/tools/run-server.ts
// In-memory leases, a Booter that enlists everyone, logs to stdout. Stops on SIGTERM/SIGINT.
import pino from 'pino';
import { startDhcpServer } from '../../../src/dhcp/index.js';
import { FakeBooter, InMemoryLeaseStore, RecordingEvents, scriptUrl, testConfig } from '../fakes.js';

const log = pino({ level: 'debug' });
const events = new RecordingEvents();
const server = await startDhcpServer({
  config: testConfig,
  leases: new InMemoryLeaseStore(),
  booter: new FakeBooter(),
  events,
  log,
  bootScriptUrl: scriptUrl,
});

const stop = async (): Promise<void> => {
  await server.close();
  log.info({ events: events.events }, 'machine events');
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
