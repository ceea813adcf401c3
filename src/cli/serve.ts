import type { Command } from 'commander';
import { startAppliance } from '../appliance.js';
import { createLogger, imagesDirOf, resolveConfig, type GlobalOptions } from './context.js';

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
