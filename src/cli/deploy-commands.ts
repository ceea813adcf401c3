// `netboot machines deploy | release | rescue | exit-rescue`, with --wait: print the timeline as it
// arrives and exit 0 when the machine gets where the action leads, 1 when it lands in a failed state,
// so CI scripts can chain them (issue 13).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ValidationError } from '../errors.js';
import type { MachineEvent } from '../machines/model.js';
import { apiClient, type ApiClient } from './api-client.js';
import { resolveConfig, type GlobalOptions } from './context.js';
import { safeJson } from './escape.js';
import { formatEvent, formatMachineLine, type MachineSummary } from './format.js';


/** Where each action ends: success, or a state that means it did not work. */
const outcomes: Readonly<Record<string, { readonly done: readonly string[]; readonly failed: readonly string[] }>> = {
  deploy: { done: ['Deployed'], failed: ['Failed deployment', 'Allocated', 'Broken'] },
  release: { done: ['Ready'], failed: ['Failed releasing', 'Failed disk erasing', 'Broken'] },
  rescue: { done: ['Rescue'], failed: ['Failed entering rescue', 'Broken'] },
  'exit-rescue': {
    done: ['New', 'Ready', 'Allocated', 'Deployed', 'Broken', 'Failed commissioning', 'Failed testing', 'Failed deployment', 'Failed disk erasing'],
    failed: ['Failed exiting rescue'],
  },
};

/** The state a `state` event moved to ("Deploying -> Deployed: ..."). */
function stateAfter(event: MachineEvent): string | undefined {
  return event.type === 'state' ? event.detail.split(': ')[0]!.split(' -> ')[1] : undefined;
}

/**
 * Streams the machine's timeline from after `afterId` until a state in the action's outcomes;
 * resolves with that machine state's success. The appliance's phase timers bound the wait.
 */
async function waitForOutcome(api: ApiClient, key: string, action: string, afterId: number): Promise<boolean> {
  const { done, failed } = outcomes[action]!;
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  let start: number | undefined;
  let result: boolean | undefined;
  await api.stream(`/machines/${encodeURIComponent(key)}/events/stream`, (data) => {
    const event = JSON.parse(data) as MachineEvent;
    if (event.id <= afterId || result !== undefined) return;
    start ??= event.at;
    console.log(formatEvent(event, start));
    const state = stateAfter(event);
    if (state && done.includes(state)) result = true;
    else if (state && failed.includes(state)) result = false;
    if (result !== undefined) controller.abort();
  }, controller.signal).catch((error: unknown) => {
    if (!controller.signal.aborted) throw error;
  });
  if (result === undefined) throw new ValidationError(controller.signal.aborted ? 'interrupted' : 'the appliance ended the event stream before the machine got there');
  return result;
}

/** Runs the action; with --wait follows it to its end and sets the exit code. */
async function act(program: Command, key: string, action: string, path: string, body: unknown, options: { json?: boolean; wait?: boolean }): Promise<void> {
  const api = apiClient(resolveConfig(program.opts<GlobalOptions>()));
  const machinePath = `/machines/${encodeURIComponent(key)}`;
  const before = options.wait ? await api.call<MachineEvent[]>('GET', `${machinePath}/events`) : [];
  const machine = await api.call<MachineSummary>('POST', `${machinePath}/${path}`, body);
  console.log(options.json ? safeJson(machine) : formatMachineLine(machine));
  if (!options.wait) return;
  const ok = await waitForOutcome(api, machine.id, action, before.at(-1)?.id ?? 0);
  const after = await api.call<MachineSummary>('GET', machinePath);
  console.log(options.json ? safeJson(after) : formatMachineLine(after));
  if (!ok) process.exitCode = 1;
}

export function registerDeployCommands(machines: Command, program: Command): void {
  const collect = (value: string, all: string[] = []) => [...all, value];
  machines.command('deploy').description('install an OS on a Ready or Allocated machine (or run it in memory) and boot it')
    .argument('<id|hostname|mac>')
    .option('--image <name>', 'disk image to install (default: config images.deploy, debian-disk)')
    .option('--user-data <file>', '#cloud-config or #! script for the deployed system (checked by cloud-init schema)')
    .option('--ssh-key <key>', 'an SSH public key for the default user (repeat for more)', collect)
    .option('--hostname <name>').option('--kernel-args <args>', 'extra kernel arguments of the deployed system')
    .option('--disk <name>', 'the disk to install to (vda, sda, nvme0n1; default: the first non-removable disk)')
    .option('--in-memory', 'boot the ephemeral image with the user-data and keep it running: nothing is written to disk')
    .option('--wait', 'follow the timeline until Deployed (exit 0) or a failed state (exit 1)').option('--json', 'print JSON')
    .action(async (key: string, o: {
      image?: string; userData?: string; sshKey?: string[]; hostname?: string; kernelArgs?: string; disk?: string;
      inMemory?: boolean; wait?: boolean; json?: boolean;
    }) => {
      const body = {
        ...(o.image ? { image: o.image } : {}), ...(o.userData ? { userData: readFileSync(o.userData, 'utf8') } : {}),
        ...(o.sshKey ? { sshKeys: o.sshKey } : {}), ...(o.hostname ? { hostname: o.hostname } : {}),
        ...(o.kernelArgs ? { kernelArgs: o.kernelArgs } : {}), ...(o.disk ? { disk: o.disk } : {}), ...(o.inMemory ? { inMemory: true } : {}),
      };
      await act(program, key, 'deploy', 'deploy', body, o);
    });
  machines.command('release').description('release an Allocated or Deployed machine, optionally erasing its disks')
    .argument('<id|hostname|mac>')
    .option('--erase', 'erase every disk first (default mode: config lifecycle.eraseMode, quick)')
    .option('--quick', 'with --erase: signatures and the first and last MiB')
    .option('--full', 'with --erase: every block (discard to zeros where supported, else zeros written)')
    .option('--secure', 'with --erase: the device\'s own secure erase where it has one, else full')
    .option('--wait', 'follow the timeline until Ready (exit 0) or a failed state (exit 1)').option('--json', 'print JSON')
    .action(async (key: string, o: { erase?: boolean; quick?: boolean; full?: boolean; secure?: boolean; wait?: boolean; json?: boolean }) => {
      const modes = (['quick', 'full', 'secure'] as const).filter((m) => o[m]);
      if (modes.length > 1) throw new ValidationError(`choose one erase mode, not ${modes.join(' and ')}`);
      if (modes.length === 1 && !o.erase) throw new ValidationError(`--${modes[0]} goes with --erase`);
      const body = o.erase ? { erase: true, ...(modes[0] ? { eraseMode: modes[0] } : {}) } : {};
      await act(program, key, 'release', 'release', body, o);
    });
  for (const [name, description] of [
    ['rescue', 'boot the machine into the rescue environment (sshd with your keys) and keep it there'],
    ['exit-rescue', 'leave rescue mode: back to the state it came from (a deployed machine boots its disk)'],
  ] as const) {
    machines.command(name).description(description).argument('<id|hostname|mac>')
      .option('--wait', 'follow the timeline until it gets there (exit 0) or fails (exit 1)').option('--json', 'print JSON')
      .action(async (key: string, o: { wait?: boolean; json?: boolean }) => act(program, key, name, `actions/${name}`, undefined, o));
  }
}
