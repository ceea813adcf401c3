// End to end, the second half of the life-cycle in one VM's life (SeaBIOS + iPXE, TCG, qemu power
// driver): enlist -> commission (tests skipped) -> allocate by constraints -> a deploy onto a disk too
// small fails with both sizes, release -> deploy debian-disk with user-data that writes a file and an
// SSH key -> Deployed (the installer in the debian image, then the disk's own cloud-init) -> log in
// with OpenSSH from the lab namespace and read the file -> rescue mode (root over SSH, the disk
// untouched) and back to Deployed -> the appliance stopped, the VM power-cycled: the installed system
// boots again without it -> appliance back, release --erase (quick) -> Ready, and the disk file read
// from the host: no partition table, zeros where quick erase promises them -> deploy in memory: its
// user-data runs, the disk file is unchanged.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultImagesDir } from '../../src/images/index.js';
import { Lab } from '../../src/lab/lab.js';
import type { Launched } from '../../src/lab/launcher.js';
import { buildDeployImages, closeLab } from './lab-support.js';
import { QemuPowerDriver } from '../../src/power/qemu.js';

const imagesDir = defaultImagesDir(process.env, homedir());
const mac = '52:54:00:d0:00:01';
const diskMiB = 4096;
/** A debian boot is ~90 s under TCG, the install ~140 s (recipes/deploy.md): generous margins. */
const deployMs = 1_200_000;
const phaseMs = 600_000;

let lab: Lab;
let vm: Launched;
let machineId: string;
let address: string;
const key = () => join(lab.dir, 'id_ed25519');

/** One MiB of the VM's disk file at `offset` (negative: from the end). */
function diskBytes(offset: number, length = 2 ** 20): Buffer {
  const path = join(lab.dir, 'disk-0.img');
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset < 0 ? size + offset : offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/**
 * `ssh <user>@<address> <command>` from inside the lab's namespace, with the key the deployment
 * installed. A few tries 5 s apart (sshd may still be starting when cloud-init reports); the last
 * failure carries ssh's stderr and the serial console.
 */
function ssh(command: string, user = 'debian'): string {
  const { command: cmd, args } = lab.network.exec('ssh', [
    '-i', key(), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=20', '-o', 'LogLevel=ERROR', `${user}@${address}`, command,
  ]);
  for (let attempt = 1; ; attempt++) {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      if (attempt >= 6) throw new Error(`ssh ${user}@${address} ${command}: ${(error as { stderr?: string }).stderr ?? (error as Error).message}\nserial console:\n${vm.tail(40)}`);
      execFileSync('sleep', ['5']);
    }
  }
}

async function diskSha256(): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(join(lab.dir, 'disk-0.img'))) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The summary column of `machines results` for one script of the latest run (its last stdout line). */
function summaryOf(script: string): string {
  const line = lab.cli(['machines', 'results', machineId, '--limit', '1']).split('\n').find((l) => l.includes(script));
  return line ?? '';
}

const deployedUp = /netboot: deployed system \S+ up after/;

beforeAll(async () => {
  await buildDeployImages(imagesDir);
  lab = await Lab.start({
    prefix: 'nb-test', imagesDir,
    lifecycle: { deployingTimeout: deployMs / 1000, erasingTimeout: phaseMs / 1000, releasingTimeout: 120 },
  });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'netboot-e2e', '-f', key()]);
  vm = await lab.bootVm({
    mac, uuid: '6e657462-6f6f-4c61-8062-d00000000001', memoryMiB: 1536, cpus: 2, accel: 'tcg', diskMiB, chassis: true,
    extraDisksMiB: [256], // vdb: too small for the image
  });
}, 1_800_000);

afterAll(() => closeLab(lab), 60_000);

describe('deploy to disk, log in, reboot without the appliance, release with erase (QEMU, BIOS)', () => {
  test('enlist, commission with tests skipped, allocate by constraints', async () => {
    const machine = await lab.waitForMachine(mac, vm, 240_000);
    machineId = machine.id;
    lab.cli(['machines', 'set', machineId, '--power', `qemu:${lab.qmpSocket(0)}`]);
    lab.cli(['machines', 'commission', machineId, '--skip-tests']);
    const ready = await lab.waitForState(machineId, ['Ready', 'Failed commissioning'], phaseMs, vm);
    expect(ready.state, lab.cli(['machines', 'results', machineId])).toBe('Ready');
    // Nothing has 64 CPUs: the refusal names the constraint; then one that fits picks this VM.
    expect(() => lab.cli(['machines', 'allocate', '--cpu', '64'])).toThrow(/cpu/i);
    expect(lab.cli(['machines', 'allocate', '--cpu', '2', '--memory', '1024', '--disk-gib', '4'])).toMatch(/Allocated/);
  }, phaseMs + 300_000);

  test('a disk too small for the image: Failed deployment with both sizes; release -> Ready', async () => {
    lab.cli(['machines', 'deploy', machineId, '--disk', 'vdb']);
    const failed = await lab.waitForState(machineId, ['Failed deployment', 'Deployed'], phaseMs, vm);
    expect(failed.state).toBe('Failed deployment');
    expect(failed.statusMessage).toMatch(/^script 10-select-disk exited 1: disk vdb is 256 MiB; the image needs at least \d+ MiB/);
    lab.cli(['machines', 'release', machineId]);
    expect((await lab.waitForState(machineId, ['Ready', 'Failed releasing'], phaseMs, vm)).state).toBe('Ready');
  }, phaseMs + 60_000);

  test('deploy: the installer writes the disk, the disk boots, its cloud-init runs our user-data -> Deployed', async () => {
    const userData = join(lab.dir, 'deploy-user-data.yaml');
    writeFileSync(userData, [
      '#cloud-config',
      'write_files:',
      '  - path: /etc/netboot-e2e',
      '    content: "deployed by netboot\\n"',
      'runcmd:',
      '  - [sh, -c, "echo netboot-e2e: runcmd ran > /dev/ttyS0"]',
      '',
    ].join('\n'));
    const publicKey = readFileSync(`${key()}.pub`, 'utf8').trim();
    const started = Date.now();
    lab.cli(['machines', 'deploy', machineId, '--user-data', userData, '--ssh-key', publicKey, '--hostname', 'e2e-deployed']);
    const done = await lab.waitForState(machineId, ['Deployed', 'Failed deployment', 'Allocated'], deployMs, vm);
    const results = lab.cli(['machines', 'results', machineId, '--limit', '1']);
    expect(done.state, `${done.statusMessage}\n${results}`).toBe('Deployed');
    console.log(`deployed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // Every installer step is a result; the image write reports its throughput.
    for (const step of ['10-select-disk', '20-partition', '30-write-image', '40-configure', '50-bootloaders']) expect(results).toMatch(new RegExp(`${step}\\s+passed`));
    console.log(summaryOf('30-write-image'));
    expect(summaryOf('30-write-image')).toMatch(/MiB\/s/);
    const timeline = lab.store().events.forMachine(machineId).map((e) => `${e.type} ${e.detail}`);
    expect(timeline, timeline.join('\n')).toContain('note image installed; booting the deployed system from its disk');
    await vm.waitFor(/netboot-e2e: runcmd ran/, 30_000, "the user-data's runcmd on the deployed system");
    address = lab.store().leases.byMac(mac)!.ip;
  }, deployMs + 60_000);

  test('ssh in with the deployed key: the user-data file is there, the hostname is ours, root is the disk', () => {
    expect(ssh('cat /etc/netboot-e2e')).toBe('deployed by netboot\n');
    expect(ssh('hostname').trim()).toBe('e2e-deployed');
    expect(ssh('findmnt -no SOURCE /').trim()).toMatch(/^\/dev\/vda3$/);
  }, 120_000);

  test('rescue: the ephemeral environment with root over SSH; exit-rescue -> Deployed, booting its disk again', async () => {
    lab.cli(['machines', 'rescue', machineId]);
    const rescue = await lab.waitForState(machineId, ['Rescue', 'Failed entering rescue'], phaseMs, vm);
    expect(rescue.state, rescue.statusMessage).toBe('Rescue');
    expect(ssh('findmnt -no FSTYPE /', 'root').trim()).toBe('overlay'); // in RAM, the disk untouched
    expect(ssh('lsblk -no NAME /dev/vda', 'root')).toMatch(/vda3/);
    lab.cli(['machines', 'exit-rescue', machineId]);
    expect((await lab.waitForState(machineId, ['Deployed', 'Failed exiting rescue'], phaseMs, vm)).state).toBe('Deployed');
    await vm.waitFor(deployedUp, phaseMs, 'the deployed system to boot its disk after rescue mode', true);
    expect(ssh('cat /etc/netboot-e2e')).toBe('deployed by netboot\n');
  }, 2 * phaseMs);

  test('the deployed system boots again with the appliance stopped (its seed is on its disk)', async () => {
    await lab.stopAppliance();
    const power = new QemuPowerDriver({ socket: lab.qmpSocket(0) });
    await power.cycle();
    // iPXE finds no DHCP server, SeaBIOS falls through to the disk; cloud-init restores its cache.
    await vm.waitFor(deployedUp, 600_000, 'the deployed system to boot again without the appliance', true);
    await lab.startAppliance();
  }, 700_000);

  test('release --erase --quick: Disk erasing -> Releasing -> Ready, and the disk has no partition table left', async () => {
    expect(diskBytes(512, 8).toString('latin1')).toBe('EFI PART'); // GPT header before the erase
    lab.cli(['machines', 'release', machineId, '--erase', '--quick']);
    const ready = await lab.waitForState(machineId, ['Ready', 'Failed disk erasing', 'Failed releasing'], phaseMs, vm);
    expect(ready.state, `${ready.statusMessage}\n${lab.cli(['machines', 'results', machineId, '--limit', '1'])}`).toBe('Ready');
    expect(summaryOf('10-erase-disks')).toMatch(/quick/);
    // Quick erase: signatures gone, the first and the last MiB zero (primary and backup GPT with them).
    expect(diskBytes(0).every((b) => b === 0)).toBe(true);
    expect(diskBytes(-(2 ** 20)).every((b) => b === 0)).toBe(true);
    const parted = execFileSync('sgdisk', ['-p', join(lab.dir, 'disk-0.img')], { encoding: 'utf8' });
    expect(parted).not.toMatch(/^\s+1\s/m);
  }, phaseMs + 60_000);

  test('deploy in memory: the user-data runs in the ephemeral image, Deployed; the disk file is unchanged', async () => {
    const before = await diskSha256();
    const userData = join(lab.dir, 'memory-user-data.yaml');
    writeFileSync(userData, '#cloud-config\nruncmd:\n  - [sh, -c, "echo netboot-e2e: in-memory runcmd ran > /dev/ttyS0"]\n');
    lab.cli(['machines', 'deploy', machineId, '--in-memory', '--user-data', userData]);
    const deployed = await lab.waitForState(machineId, ['Deployed', 'Failed deployment'], phaseMs, vm);
    expect(deployed.state, deployed.statusMessage).toBe('Deployed');
    await vm.waitFor(/netboot-e2e: in-memory runcmd ran/, 30_000, "the in-memory deployment's runcmd");
    lab.cli(['machines', 'release', machineId]);
    expect((await lab.waitForState(machineId, ['Ready', 'Failed releasing'], phaseMs, vm)).state).toBe('Ready');
    expect(await diskSha256()).toBe(before);
  }, 2 * phaseMs);
});
