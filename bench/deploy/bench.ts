// Deploy benchmark under TCG (issue #13): per phase, how long a real deployment takes on this machine,
// one VM alone and several at once, and what each erase mode costs on the deployed disk. Everything
// runs in a lab (its own network namespace, VMs on its bridge), the same way `netboot lab` does.
//
//   bench/deploy/bench.sh [--vms 1,2] [--erase quick,full,secure] [--disk-mib 4096] [--memory-mib 1536]
//
// Phases, from the machine's timeline (the appliance's clock):
//   to installer  `deploy` accepted -> the installer's first script result (power cycle, netboot of the
//                 debian image, its cloud-init, the runner fetching its bundle)
//   install       first -> last installer result (select, partition, write, configure, bootloaders)
//   write         30-write-image's own summary: bytes and MiB/s of the image stream into tar
//   to Deployed   the installer's last result -> Deployed (power cycle, local boot, Debian's first boot
//                 with cloud-init, phone_home)
// Erase rows: release --erase <mode> of the deployed disk; 10-erase-disks's summary and the whole
// Disk erasing -> Ready time. A second count in --vms deploys that many VMs at once (each its own disk).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import type { Launched } from '../../src/lab/launcher.js';
import type { MachineEvent } from '../../src/machines/model.js';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '1,2' },
    erase: { type: 'string', default: 'quick,full,secure' },
    'disk-mib': { type: 'string', default: '4096' },
    'memory-mib': { type: 'string', default: '1536' },
  },
});
const counts = values.vms.split(',').map(Number);
const eraseModes = values.erase.split(',').filter(Boolean);
const diskMiB = Number(values['disk-mib']);
const memoryMiB = Number(values['memory-mib']);
if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 4)) throw new Error('--vms: counts from 1 to 4, e.g. 1,2');
for (const mode of eraseModes) if (!['quick', 'full', 'secure'].includes(mode)) throw new Error(`--erase: unknown mode ${mode}`);

const phaseMs = 1_800_000;
const imagesDir = defaultImagesDir(process.env, homedir());
const seconds = (ms: number): string => (ms / 1000).toFixed(0);

interface DeployFigures { readonly toInstaller: number; readonly install: number; readonly write: string; readonly toDeployed: number; readonly total: number }

/** Script results after `after`, in order (type `script-result`, detail `<script> <outcome> in <n> ms`). */
function results(events: readonly MachineEvent[], after: number): MachineEvent[] {
  return events.filter((e) => e.type === 'script-result' && e.at >= after);
}

function figures(lab: Lab, id: string, started: number): DeployFigures {
  const events = lab.store().events.forMachine(id);
  // The installer's results: after its run's `scripts` event (commissioning's last results can fall
  // within a second of the deploy command, which follows Ready at once).
  const run = events.find((e) => e.type === 'scripts' && e.at >= started && e.detail.startsWith('deployment:'));
  const steps = run ? results(events, run.at) : [];
  const deployed = events.find((e) => e.type === 'state' && e.at >= started && /-> Deployed(:|$)/.test(e.detail));
  const [first, last] = [steps[0], steps.at(-1)];
  if (!first || !last || !deployed) throw new Error(`machine ${id}: no installer results or no Deployed on the timeline`);
  const write = /downloaded (\d+) bytes in ([\d.]+) s \(([\d.]+ MiB\/s)/.exec(summary(lab, id, '30-write-image'));
  return {
    toInstaller: first.at - started,
    install: last.at - first.at,
    write: write ? `${(Number(write[1]) / 2 ** 20).toFixed(0)} MiB at ${write[3]}` : '?',
    toDeployed: deployed.at - last.at,
    total: deployed.at - started,
  };
}

/** The summary column of `machines results` for one script of the latest run. */
function summary(lab: Lab, id: string, script: string): string {
  const line = lab.cli(['machines', 'results', id, '--limit', '1']).split('\n').find((l) => l.includes(script)) ?? '';
  return line.replace(/^.*?\bpassed\s+\S+\s+s\s+/, '').trim();
}

async function commissioned(lab: Lab, vms: readonly Launched[], macs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [index, mac] of macs.entries()) {
    const machine = await lab.waitForMachine(mac, vms[index]!, phaseMs);
    lab.cli(['machines', 'set', machine.id, '--power', `qemu:${lab.qmpSocket(index)}`]);
    lab.cli(['machines', 'commission', machine.id, '--skip-tests']);
    ids.push(machine.id);
  }
  for (const [index, id] of ids.entries()) {
    const ready = await lab.waitForState(id, ['Ready', 'Failed commissioning'], phaseMs, vms[index]);
    if (ready.state !== 'Ready') throw new Error(`machine ${id}: ${ready.state}: ${ready.statusMessage}`);
  }
  return ids;
}

async function run(count: number): Promise<void> {
  const lab = await Lab.start({
    prefix: 'nb-bench', imagesDir, vmCount: count,
    lifecycle: { deployingTimeout: phaseMs / 1000, erasingTimeout: phaseMs / 1000, releasingTimeout: 300 },
  });
  try {
    const key = join(lab.dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'netboot-bench', '-f', key]);
    const macs = Array.from({ length: count }, (_, i) => `52:54:00:be:00:${(i + 1).toString(16).padStart(2, '0')}`);
    const vms: Launched[] = [];
    for (const [index, mac] of macs.entries()) {
      const uuid = `6e657462-6f6f-4c61-8062-be00000000${(index + 1).toString(16).padStart(2, '0')}`;
      vms.push(await lab.bootVm({ mac, uuid, tapIndex: index, memoryMiB, cpus: 2, accel: 'tcg', diskMiB, chassis: true }));
    }
    const ids = await commissioned(lab, vms, macs);

    const started = Date.now();
    for (const id of ids) lab.cli(['machines', 'deploy', id, '--ssh-key', readFileSync(`${key}.pub`, 'utf8').trim()]);
    for (const [index, id] of ids.entries()) {
      const done = await lab.waitForState(id, ['Deployed', 'Failed deployment'], phaseMs, vms[index]);
      if (done.state !== 'Deployed') throw new Error(`machine ${id}: ${done.state}: ${done.statusMessage}`);
    }
    const wall = Date.now() - started;
    for (const [index, id] of ids.entries()) {
      const f = figures(lab, id, started);
      console.log(`${count} at once  vm${index}  to installer ${seconds(f.toInstaller)} s  install ${seconds(f.install)} s  write ${f.write}  to Deployed ${seconds(f.toDeployed)} s  total ${seconds(f.total)} s`);
    }
    console.log(`${count} at once  wall clock ${seconds(wall)} s for ${count} deployment(s)`);

    if (count !== 1) return;
    // Erase modes, one after another on the deployed disk: allocate it again between releases.
    const [id, vm] = [ids[0]!, vms[0]!];
    for (const [n, mode] of eraseModes.entries()) {
      if (n > 0) lab.cli(['machines', 'allocate', id]);
      const at = Date.now();
      lab.cli(['machines', 'release', id, '--erase', `--${mode}`]);
      const ready = await lab.waitForState(id, ['Ready', 'Failed disk erasing', 'Failed releasing'], phaseMs, vm);
      if (ready.state !== 'Ready') throw new Error(`erase ${mode}: ${ready.state}: ${ready.statusMessage}`);
      console.log(`erase ${mode.padEnd(6)}  release -> Ready ${seconds(Date.now() - at)} s  ${summary(lab, id, '10-erase-disks')}`);
    }
  } finally {
    await lab.close();
  }
}

for (const name of ['micro', 'debian', 'debian-disk']) {
  await buildImage({ name, imagesDir, recipesDir, force: false, onProgress: (line) => console.log(`images/${name}: ${line}`) });
}
console.log(`deploy benchmark: ${diskMiB} MiB disk, ${memoryMiB} MiB RAM, 2 vCPUs per VM, TCG, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} host cores`);
for (const count of counts) await run(count);
