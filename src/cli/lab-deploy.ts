// `netboot lab --deploy`: after the VM enlisted, the rest of its life as an operator drives it through
// the CLI: commission (tests skipped), allocate, deploy debian-disk with a fresh SSH key, log in over
// SSH, release. Every command is printed before it runs, so the demo doubles as a how-to.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';
import type { Launched } from '../lab/launcher.js';
import { LabError } from '../errors.js';

/** Under TCG on two cores: commissioning ~1 min, deploying ~6 min, releasing seconds (README figures). */
const phaseTimeoutMs = 1_200_000;

export async function deployDemo(lab: Lab, vm: Launched, machineId: string, step: (message: string) => void): Promise<void> {
  const run = (args: string[]) => {
    console.log(`$ netboot ${args.join(' ')}`);
    const output = lab.cli(args).trimEnd();
    if (output) console.log(output);
    return output;
  };
  const wait = async (states: string[], success: string) => {
    const machine = await lab.waitForState(machineId, states, phaseTimeoutMs, vm);
    if (machine.state !== success) {
      console.log(lab.cli(['machines', 'results', machineId, '--limit', '1']));
      throw new LabError(`machine ${machineId} ended ${machine.state}, not ${success}: ${machine.statusMessage}`);
    }
  };
  step('the operator takes over: the qemu power driver switches the VM over QMP');
  run(['machines', 'set', machineId, '--power', `qemu:${lab.qmpSocket(0)}`]);
  run(['machines', 'commission', machineId, '--skip-tests']);
  await wait(['Ready', 'Failed commissioning'], 'Ready');
  run(['machines', 'allocate', '--cpu', '1', '--memory', '1024']);

  step('deploying debian-disk with a fresh SSH key (the installer runs in the debian image, then the disk boots)');
  const key = join(lab.dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'netboot-lab', '-f', key]);
  const userData = join(lab.dir, 'user-data.yaml');
  writeFileSync(userData, '#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: "deployed by netboot lab --deploy\\n"\n');
  const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();
  run(['machines', 'deploy', machineId, '--user-data', userData, '--ssh-key', publicKey]);
  await wait(['Deployed', 'Failed deployment', 'Allocated'], 'Deployed');

  const address = lab.store().leases.byMac(lab.store().machines.get(machineId)?.bootMac ?? '')?.ip;
  if (!address) throw new LabError(`machine ${machineId} has no lease`);
  step(`logging in: ssh debian@${address} (inside the lab's namespace)`);
  const { command, args } = lab.network.exec('ssh', [
    '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
    `debian@${address}`, 'cat /etc/motd; . /etc/os-release; echo "$PRETTY_NAME on $(hostname), root on $(findmnt -no SOURCE /)"',
  ]);
  console.log(execFileSync(command, args, { encoding: 'utf8', timeout: 60_000 }).trimEnd());

  step('releasing: power off, back to Ready');
  run(['machines', 'release', machineId]);
  await wait(['Ready', 'Failed releasing'], 'Ready');
}
