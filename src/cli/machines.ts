import type { Command } from 'commander';
import { openStore } from '../store/index.js';
import { normaliseMac } from '../machines/boot.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { matchesFilter, type MachineFilterQuery } from '../api/index.js';
import { publicPowerSettings } from '../power/registry.js';
import { machineMacs, type Machine } from '../machines/model.js';
import { registerMachineActions } from './machine-actions.js';
import { safeJson } from './escape.js';
import { formatMachine, formatMachineList } from './format.js';
import { resolveConfig, type GlobalOptions } from './context.js';

export function registerMachineCommands(program: Command): void {
  const machines = program.command('machines').description('machines known to this appliance');

  machines.command('list').description('list machines (filters combine)')
    .option('--state <state>').option('--tag <tag>', 'repeatable: all must match', (v: string, p: string[]) => [...p, v], [])
    .option('--zone <zone>').option('--pool <pool>').option('--arch <arch>')
    .option('--min-cpu <n>').option('--min-memory <MiB>').option('--min-disk <GiB>')
    .option('--json', 'print JSON')
    .action(async (options: ListOptions) => {
      await withStore(program.opts<GlobalOptions>(), (store) => {
        const list = store.machines.list().filter((m) => matchesFilter(m, listFilter(options))).map(({ token: _t, ...m }) => ({ ...m, power: publicPowerSettings(m.power) }));
        console.log(options.json ? safeJson(list) : formatMachineList(list as Machine[]));
      });
    });

  registerMachineActions(machines, program);

  machines.command('show').description('show a machine with its inventory and boot timeline')
    .argument('<id|hostname|mac>')
    .option('--json', 'print JSON')
    .action(async (key: string, options: { json?: boolean }) => {
      await withStore(program.opts<GlobalOptions>(), (store) => {
        const mac = normaliseMac(key);
        const machine = store.machines.get(key) ?? (mac ? store.machines.byMac(mac) : undefined);
        if (!machine) throw new NotFoundError(`no machine '${key}': see \`netboot machines list\``);
        const events = store.events.forMachine(machine.id);
        const macs = machineMacs(machine);
        const relays = macs.map((m) => store.relays.byMac(m)).filter((r) => r !== undefined);
        const { token: _token, ...shown } = machine;
        console.log(options.json ? safeJson({ ...shown, power: publicPowerSettings(machine.power), relays, events }) : formatMachine(machine, events, relays));
      });
    });
}

interface ListOptions {
  state?: string; tag: string[]; zone?: string; pool?: string; arch?: string;
  minCpu?: string; minMemory?: string; minDisk?: string; json?: boolean;
}

function listFilter(o: ListOptions): MachineFilterQuery {
  const number = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new ValidationError(`${flag} '${text}' is not a positive whole number`);
    return value;
  };
  const minCpu = number('--min-cpu', o.minCpu);
  const minMemoryMiB = number('--min-memory', o.minMemory);
  const minDiskGiB = number('--min-disk', o.minDisk);
  return {
    ...(o.state ? { state: o.state } : {}), ...(o.tag.length ? { tag: o.tag } : {}), ...(o.zone ? { zone: o.zone } : {}),
    ...(o.pool ? { pool: o.pool } : {}), ...(o.arch ? { arch: o.arch } : {}), ...(minCpu ? { minCpu } : {}),
    ...(minMemoryMiB ? { minMemoryMiB } : {}), ...(minDiskGiB ? { minDiskGiB } : {}),
  };
}

async function withStore(options: GlobalOptions, body: (store: ReturnType<typeof openStore>) => void): Promise<void> {
  const store = openStore(resolveConfig(options).dataDir);
  try {
    body(store);
  } finally {
    await store.close();
  }
}
