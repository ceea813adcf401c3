#!/usr/bin/env node
import { Command } from 'commander';
import { NetbootError } from '../errors.js';
import { escapeLines } from './escape.js';
import { registerImageCommands } from './images.js';
import { registerLabCommand } from './lab.js';
import { registerMachineCommands } from './machines.js';
import { registerServeCommand } from './serve.js';
import { registerCatalogueCommands } from './catalogue.js';

const program = new Command('netboot')
  .description('network-boot appliance: DHCP, HTTP boot, enlistment and a machine life-cycle')
  .option('-c, --config <file>', 'YAML config file (NETBOOT_* environment and flags override it)')
  .option('--data-dir <dir>', 'data directory (database)')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent');

registerServeCommand(program);
registerMachineCommands(program);
registerCatalogueCommands(program);
registerImageCommands(program);
registerLabCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof NetbootError) {
    // API errors can quote what a machine sent (probe F7): escaped like everything else printed.
    console.error(`netboot: ${escapeLines(error.message)} [${error.code}]`);
  } else {
    console.error('netboot: unexpected error:', error);
  }
  process.exitCode = 1;
});
