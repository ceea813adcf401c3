// End to end with Secure Boot enforced (OVMF secboot, Microsoft's keys enrolled, TCG): the signed
// chain only. Every netboot is shim -> Debian's signed grubnetx64 -> signed kernel (iPXE and
// localboot.efi are unsigned, so OVMF would refuse them). enlist -> commission (tests skipped) ->
// deploy -> the netboot after the installer gets grub.cfg "local": the signed network grub runs the
// disk's /boot/grub/grub.cfg, whose Debian-signed kernel the network shim verifies -> cloud-init
// reports -> Deployed. The test logs in and reads, on the installed system, that
// Secure Boot is on and the kernel is locked down.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultImagesDir } from '../../src/images/index.js';
import { Lab } from '../../src/lab/lab.js';
import type { Launched } from '../../src/lab/launcher.js';
import { buildDeployImages, closeLab } from './lab-support.js';

const imagesDir = defaultImagesDir(process.env, homedir());
const mac = '52:54:00:d0:00:03';
const deployMs = 1_200_000;
const phaseMs = 600_000;

let lab: Lab;
let vm: Launched;
const key = () => join(lab.dir, 'id_ed25519');

beforeAll(async () => {
  await buildDeployImages(imagesDir);
  lab = await Lab.start({ prefix: 'nb-test', imagesDir, uefiLoader: 'shim', lifecycle: { deployingTimeout: deployMs / 1000 } });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'netboot-e2e', '-f', key()]);
  vm = await lab.bootVm({
    mac, uuid: '6e657462-6f6f-4c61-8062-d00000000003', memoryMiB: 1536, cpus: 2, accel: 'tcg', diskMiB: 4096, chassis: true, firmware: 'secure-boot',
  });
}, 1_800_000);

afterAll(() => closeLab(lab), 60_000);

describe('deploy to disk with Secure Boot (OVMF secboot, QEMU)', () => {
  test('commission and deploy through the signed chain; the network grub boots the disk\'s grub.cfg -> Deployed; ssh in', async () => {
    const machine = await lab.waitForMachine(mac, vm, phaseMs);
    lab.cli(['machines', 'set', machine.id, '--power', `qemu:${lab.qmpSocket(0)}`]);
    lab.cli(['machines', 'commission', machine.id, '--skip-tests']);
    expect((await lab.waitForState(machine.id, ['Ready', 'Failed commissioning'], phaseMs, vm)).state).toBe('Ready');

    const started = Date.now();
    lab.cli(['machines', 'deploy', machine.id, '--ssh-key', readFileSync(`${key()}.pub`, 'utf8').trim()]);
    const done = await lab.waitForState(machine.id, ['Deployed', 'Failed deployment', 'Allocated'], deployMs, vm);
    expect(done.state, `${done.statusMessage}\n${lab.cli(['machines', 'results', machine.id, '--limit', '1'])}`).toBe('Deployed');
    console.log(`deployed with Secure Boot in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // The hand-off was grub's: no iPXE script and no localboot.efi on this machine's timeline.
    const timeline = lab.store().events.forMachine(machine.id).map((e) => `${e.type} ${e.detail}`);
    expect(timeline, timeline.join('\n')).toContain('grub-config local');
    expect(timeline.filter((e) => e.startsWith('ipxe-script') || e.startsWith('file localboot'))).toEqual([]);

    // The kernel says what the firmware told it (arch/x86/kernel/setup.c "Secure boot enabled"), and
    // Debian's kernel locks itself down (integrity) only when booted with Secure Boot on. efivarfs is
    // not mounted in the minimal image, so the SecureBoot variable itself is not read.
    const address = lab.store().leases.byMac(mac)!.ip;
    const { command, args } = lab.network.exec('ssh', [
      '-i', key(), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
      `debian@${address}`, 'sudo dmesg | grep -o "Secure boot enabled"; sudo cat /sys/kernel/security/lockdown; findmnt -no SOURCE /',
    ]);
    const answer = execFileSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    expect(answer).toMatch(/^Secure boot enabled\n.*\[integrity\].*\n\/dev\/vda3\n$/);
  }, 2 * phaseMs + deployMs);
});
