// `netboot machines <action>`: the operator API's machine actions from the command line, printing
// the machine's new state (or --json), `power`, and `watch`, the live timeline over the API's event stream.
import { readFileSync } from 'node:fs';
import { Argument, type Command } from 'commander';
import { ValidationError } from '../errors.js';
import { addPowerOptions, hasPowerFlags, parsePowerOption, type PowerFlags } from './power-options.js';
import type { MachineEvent } from '../machines/model.js';
import { operatorPowerActions } from '../machines/power-control.js';
import { apiClient } from './api-client.js';
import { registerDeployCommands } from './deploy-commands.js';
import { cliEnvironment, resolveConfig, type GlobalOptions } from './context.js';
import { safeJson } from './escape.js';
import { formatEvent, formatMachineLine, formatRuns } from './format.js';
import type { ScriptRunView } from './format.js';

interface MachineView { id: string; hostname: string; state: string; statusMessage: string; locked: boolean; tags: string[] }

function printMachine(machine: MachineView, json: boolean | undefined): void {
  if (json) {
    console.log(safeJson(machine));
    return;
  }
  console.log(formatMachineLine(machine));
}

const powerHelp = 'manual | qemu:<QMP socket> | ipmi | redfish | webhook (see the flags below; README "Power drivers")';

/** A commander option parser for a whole number of at least 1. */
function positiveInt(flag: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new ValidationError(`${flag} '${text}': a whole number of at least 1`);
    return value;
  };
}

export function registerMachineActions(machines: Command, program: Command): void {
  const api = () => apiClient(resolveConfig(program.opts<GlobalOptions>()));
  registerDeployCommands(machines, program);
  const simple: Array<[string, string]> = [
    ['test', 'run the tests again (Ready, Broken, failed machines)'],
    ['abort', 'stop what the machine is doing (commissioning, testing, deploying, ...)'],
    ['mark-fixed', 'back to Ready (or New if never commissioned)'],
    ['lock', 'refuse every state and power change until unlocked'],
    ['unlock', 'allow changes again'],
  ];
  for (const [name, description] of simple) {
    machines.command(name).description(description).argument('<id|hostname|mac>').option('--json', 'print JSON')
      .action(async (key: string, options: { json?: boolean }) => {
        printMachine(await api().call('POST', `/machines/${encodeURIComponent(key)}/actions/${name}`), options.json);
      });
  }
  machines.command('power').description('power on, off (hard), cycle, or soft (the ACPI power button: the OS shuts down, or not)')
    .addArgument(new Argument('<action>').choices(operatorPowerActions)).argument('<id|hostname|mac>').option('--json', 'print JSON')
    .action(async (action: string, key: string, options: { json?: boolean }) => {
      printMachine(await api().call('POST', `/machines/${encodeURIComponent(key)}/power/${action}`), options.json);
    });
  machines.command('allocate').description('reserve one Ready machine that has what you ask for (or the one named)')
    .argument('[id|hostname|mac]', 'this machine, if it meets the constraints')
    .option('--cpu <n>', 'at least this many CPUs', positiveInt('--cpu'))
    .option('--memory <MiB>', 'at least this much memory, MiB', positiveInt('--memory'))
    .option('--disk-gib <GiB>', 'a disk of at least this size', positiveInt('--disk-gib'))
    .option('--tag <tag>', 'a tag it must have (repeat for more)', (tag: string, all: string[] = []) => [...all, tag])
    .option('--zone <zone>').option('--pool <pool>').option('--arch <arch>', 'e.g. x86_64').option('--json', 'print JSON')
    .action(async (key: string | undefined, o: { cpu?: number; memory?: number; diskGib?: number; tag?: string[]; zone?: string; pool?: string; arch?: string; json?: boolean }) => {
      const body = {
        ...(key ? { name: key } : {}), ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memoryMiB: o.memory } : {}),
        ...(o.diskGib ? { diskGiB: o.diskGib } : {}), ...(o.tag ? { tags: o.tag } : {}), ...(o.zone ? { zone: o.zone } : {}),
        ...(o.pool ? { pool: o.pool } : {}), ...(o.arch ? { arch: o.arch } : {}),
      };
      printMachine(await api().call('POST', '/machines/allocate', body), o.json);
    });
  machines.command('commission').description('collect the inventory and run the tests (New, Ready, Broken, failed machines)')
    .argument('<id|hostname|mac>').option('--skip-tests', 'go to Ready without the testing phase').option('--json', 'print JSON')
    .action(async (key: string, options: { skipTests?: boolean; json?: boolean }) => {
      const body = options.skipTests ? { skipTests: true } : undefined;
      printMachine(await api().call('POST', `/machines/${encodeURIComponent(key)}/actions/commission`, body), options.json);
    });
  machines.command('mark-broken').description('take the machine out of service').argument('<id|hostname|mac>')
    .option('--reason <text>', 'why (shown with the machine)').option('--json', 'print JSON')
    .action(async (key: string, options: { reason?: string; json?: boolean }) => {
      const body = options.reason ? { reason: options.reason } : undefined;
      printMachine(await api().call('POST', `/machines/${encodeURIComponent(key)}/actions/mark-broken`, body), options.json);
    });

  addPowerOptions(machines.command('add')
    .description('add a machine by hand; commissioning starts at once. Without <mac>, by its BMC alone (ipmi, redfish): '
      + 'it is powered on to netboot, matched by the BMC address it reports when it enlists, then commissioned')
    .argument('[mac]').requiredOption('--power <driver>', powerHelp))
    .option('--hostname <name>').option('--skip-tests', 'skip the testing phase').option('--json', 'print JSON')
    .action(async (mac: string | undefined, options: PowerFlags & { power: string; hostname?: string; skipTests?: boolean; json?: boolean }) => {
      printMachine(await api().call('POST', '/machines', {
        ...(mac ? { mac } : {}), power: parsePowerOption(options.power, options, cliEnvironment()),
        ...(options.hostname ? { hostname: options.hostname } : {}), ...(options.skipTests ? { skipTests: true } : {}),
      }), options.json);
    });
  addPowerOptions(machines.command('set').description('change notes, zone, pool, power settings (all of them at once) or hostname').argument('<id|hostname|mac>')
    .option('--notes <text>').option('--notes-file <file>').option('--zone <name>').option('--pool <name>')
    .option('--power <driver>', powerHelp)).option('--hostname <name>').option('--json', 'print JSON')
    .action(async (key: string, o: PowerFlags & { notes?: string; notesFile?: string; zone?: string; pool?: string; power?: string; hostname?: string; json?: boolean }) => {
      if (!o.power && hasPowerFlags(o)) throw new ValidationError('power flags need --power <driver>: the power settings are replaced as a whole');
      const notes = o.notesFile ? readFileSync(o.notesFile, 'utf8') : o.notes;
      const body = {
        ...(notes !== undefined ? { notes } : {}), ...(o.zone ? { zone: o.zone } : {}), ...(o.pool ? { pool: o.pool } : {}),
        ...(o.power ? { power: parsePowerOption(o.power, o, cliEnvironment()) } : {}), ...(o.hostname ? { hostname: o.hostname } : {}),
      };
      if (Object.keys(body).length === 0) throw new ValidationError('nothing to change: give --notes, --zone, --pool, --power or --hostname');
      printMachine(await api().call('PATCH', `/machines/${encodeURIComponent(key)}`, body), o.json);
    });
  machines.command('user-data').description('show, set (--file) or clear the operator\'s user-data, merged into ours at cloud-init boots')
    .argument('<id|hostname|mac>').option('--file <file>', '#cloud-config or #! script; checked by cloud-init schema before it is stored')
    .option('--clear', 'remove it')
    .action(async (key: string, o: { file?: string; clear?: boolean }) => {
      const path = `/machines/${encodeURIComponent(key)}/user-data`;
      if (o.file && o.clear) throw new ValidationError('give --file or --clear, not both');
      if (!o.file && !o.clear) {
        process.stdout.write(await api().text(path));
        return;
      }
      const stored = await api().call<{ kind: string; bytes: number; schemaChecked: boolean }>(
        o.clear ? 'DELETE' : 'PUT', path, o.clear ? undefined : readFileSync(o.file!, 'utf8'));
      console.log(stored.kind === 'none' ? `${key}: no user-data` : `${key}: user-data stored (${stored.kind}, ${stored.bytes} bytes${stored.schemaChecked ? ', valid for cloud-init schema' : ''})`);
    });
  machines.command('delete').description('forget a machine').argument('<id|hostname|mac>')
    .action(async (key: string) => {
      await api().call('DELETE', `/machines/${encodeURIComponent(key)}`);
      console.log(`deleted ${key}`);
    });
  machines.command('tag').description('put a manual tag on a machine').argument('<id|hostname|mac>').argument('<tag>')
    .action(async (key: string, tag: string) => printMachine(await api().call('PUT', `/machines/${encodeURIComponent(key)}/tags/${encodeURIComponent(tag)}`), false));
  machines.command('untag').description('take a manual tag off a machine').argument('<id|hostname|mac>').argument('<tag>')
    .action(async (key: string, tag: string) => printMachine(await api().call('DELETE', `/machines/${encodeURIComponent(key)}/tags/${encodeURIComponent(tag)}`), false));
  machines.command('results').description('the commissioning and testing runs with each script\'s output')
    .argument('<id|hostname|mac>').option('--limit <n>', 'runs to show', '2').option('--json', 'print JSON')
    .action(async (key: string, options: { limit: string; json?: boolean }) => {
      const runs = await api().call<ScriptRunView[]>('GET', `/machines/${encodeURIComponent(key)}/results?limit=${Number(options.limit) || 2}`);
      console.log(options.json ? safeJson(runs) : formatRuns(runs));
    });
  machines.command('watch').description('print the machine\'s boot timeline as it happens (Ctrl-C to stop)')
    .argument('<id|hostname|mac>').option('--until <state>', 'exit once the machine reaches this state')
    .action(async (key: string, options: { until?: string }) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      let start: number | undefined;
      await api().stream(`/machines/${encodeURIComponent(key)}/events/stream`, (data) => {
        const event = JSON.parse(data) as MachineEvent;
        start ??= event.at;
        console.log(formatEvent(event, start));
        if (options.until && event.type === 'state' && event.detail.split(': ')[0]!.endsWith(`-> ${options.until}`)) controller.abort();
      }, controller.signal).then(() => {
        // The appliance ends open streams when it stops (src/api/event-routes.ts).
        if (!controller.signal.aborted) console.error('netboot: the appliance ended the stream (it is stopping or restarting)');
      }, (error: unknown) => {
        if (!controller.signal.aborted) throw error;
      });
    });
}
