import type { Command } from 'commander';
import { openStore } from '../store/index.js';
import { normaliseMac } from '../machines/boot.js';
import { NotFoundError } from '../errors.js';
import { formatMachine, formatMachineList } from './format.js';
import { resolveConfig, type GlobalOptions } from './context.js';

export function registerMachineCommands(program: Command): void {
  const machines = program.command('machines').description('machines known to this appliance');

  machines.command('list').description('list machines')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      withStore(program.opts<GlobalOptions>(), (store) => {
        const list = store.machines.list();
        console.log(options.json ? JSON.stringify(list, null, 2) : formatMachineList(list));
      });
    });

  machines.command('show').description('show a machine with its inventory and boot timeline')
    .argument('<id|hostname|mac>')
    .option('--json', 'print JSON')
    .action((key: string, options: { json?: boolean }) => {
      withStore(program.opts<GlobalOptions>(), (store) => {
        const mac = normaliseMac(key);
        const machine = store.machines.get(key) ?? (mac ? store.machines.byMac(mac) : undefined);
        if (!machine) throw new NotFoundError(`no machine '${key}': see \`netboot machines list\``);
        const events = store.events.forMachine(machine.id);
        const macs = machine.inventory?.nics.map((n) => n.mac) ?? [machine.bootMac];
        const relays = macs.map((m) => store.relays.byMac(m)).filter((r) => r !== undefined);
        console.log(options.json ? JSON.stringify({ ...machine, relays, events }, null, 2) : formatMachine(machine, events, relays));
      });
    });
}

function withStore(options: GlobalOptions, body: (store: ReturnType<typeof openStore>) => void): void {
  const store = openStore(resolveConfig(options).dataDir);
  try {
    body(store);
  } finally {
    store.close();
  }
}
