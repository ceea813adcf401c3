// netboot's TFTP server as its own process for bench.ts, like the servers it is compared with:
//   node node_modules/vite-node/vite-node.mjs bench/tftp/netboot-server.ts ROOT PORT
// Defaults except maxPerClient: every benchmark client comes from 127.0.0.1, so the per-address
// cap (8) would refuse the 20-client runs; tftpd-hpa and atftpd have no such cap. TFTP_WORKERS and
// TFTP_CACHE_MIB set tftp.workers and tftp.cacheMiB for comparisons (defaults as in production).
import pino from 'pino';
import { directoryFiles, startTftpServer } from '../../src/tftp/index.js';

const [root, port] = process.argv.slice(2).filter((a) => a !== '--');
if (!root || !port) {
  console.error('usage: netboot-server.ts ROOT PORT');
  process.exit(2);
}
const server = await startTftpServer({
  host: '127.0.0.1', port: Number(port), files: directoryFiles(root),
  log: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  options: { maxPerClient: 64, maxTransfers: 64 },
  ...(process.env.TFTP_WORKERS ? { workers: Number(process.env.TFTP_WORKERS) } : {}),
  ...(process.env.TFTP_CACHE_MIB ? { cacheBytes: Number(process.env.TFTP_CACHE_MIB) * 1024 * 1024 } : {}),
});
console.log(`listening on ${server.address.host}:${server.address.port}`);
const stop = async (): Promise<void> => {
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
