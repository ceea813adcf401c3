// Runs the TFTP server alone over a directory, for captures against real firmware and by-hand
// checks with real clients:
//   npx vite-node test/tftp/tools/run-server.ts -- ROOT [HOST] [PORT]
// Logs to stdout (level from LOG_LEVEL, default debug). Stops on SIGTERM/SIGINT.
import pino from 'pino';
import { directoryFiles, startTftpServer } from '../../../src/tftp/index.js';

const [root, host = '127.0.0.1', port = '16969'] = process.argv.slice(2).filter((a) => a !== '--');
if (!root) {
  console.error('usage: run-server.ts ROOT [HOST] [PORT]');
  process.exit(2);
}
const log = pino({ level: process.env.LOG_LEVEL ?? 'debug' });
const server = await startTftpServer({
  host, port: Number(port), files: directoryFiles(root), log,
  options: process.env.TFTP_MTU ? { mtu: Number(process.env.TFTP_MTU) } : {},
});
console.log(`listening on ${server.address.host}:${server.address.port}`);

const stop = async (): Promise<void> => {
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
