import type { Command } from 'commander';
import { startAppliance } from '../appliance.js';
import { createLogger, imagesDirOf, resolveConfig, type GlobalOptions } from './context.js';

/**
 * The whole shutdown, after which the process exits 1 whatever still runs. Each service gets a
 * bound of its own (src/closers.ts); this one is the last word, under systemd's TimeoutStopSec (90 s
 * by default) so that a stop is logged by us rather than ended by SIGKILL.
 */
export const SHUTDOWN_DEADLINE_MS = 10_000;

export function registerServeCommand(program: Command): void {
  program.command('serve').description('run the appliance: DHCP, HTTP boot and enlistment')
    .action(async () => {
      const config = resolveConfig(program.opts<GlobalOptions>());
      const log = createLogger(config);
      const appliance = await startAppliance({ config, log, imagesDir: imagesDirOf(config) });
      // SIGTERM (systemd, the lab, tests) and SIGINT close listeners in reverse order, then exit.
      let closing = false;
      const shutdown = (signal: string) => {
        if (closing) return;
        closing = true;
        log.info({ signal }, 'shutting down');
        setTimeout(() => {
          log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time: exiting anyway');
          process.exit(1);
        }, SHUTDOWN_DEADLINE_MS).unref();
        appliance.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      // SIGHUP (kill -HUP): serve the images built or imported since start. A broken manifest
      // is logged and the images already served stay.
      process.on('SIGHUP', () => {
        if (closing) return;
        try {
          appliance.images.reload();
        } catch (err) {
          log.error({ err }, 'images not reloaded: the previous ones stay served');
        }
      });
    });
}
