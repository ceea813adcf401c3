// End to end on UEFI (OVMF's own PXE -> snponly.efi -> iPXE, TCG, qemu power driver): the same disk
// the BIOS test deploys boots through its UEFI loader. enlist -> commission (tests skipped) -> deploy
// with an SSH key -> the installer's ESP holds shim as \EFI\BOOT\BOOTX64.EFI -> the netboot that
// follows answers "local" with localboot.efi, which chainloads the disk's shim -> grub -> Debian, whose
// cloud-init reports -> Deployed; the test logs in and checks the system came up through UEFI (the
// ESP is mounted umask=0077: root reads it, through the default user's sudo).
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
const mac = '52:54:00:d0:00:02';
const deployMs = 1_200_000;
const phaseMs = 600_000;

let lab: Lab;
let vm: Launched;
const key = () => join(lab.dir, 'id_ed25519');

beforeAll(async () => {
  await buildDeployImages(imagesDir);
  lab = await Lab.start({ prefix: 'nb-test', imagesDir, lifecycle: { deployingTimeout: deployMs / 1000 } });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'netboot-e2e', '-f', key()]);
  vm = await lab.bootVm({
    mac, uuid: '6e657462-6f6f-4c61-8062-d00000000002', memoryMiB: 1536, cpus: 2, accel: 'tcg', diskMiB: 4096, chassis: true, firmware: 'uefi-pxe',
  });
}, 1_800_000);

afterAll(() => closeLab(lab), 60_000);

describe('deploy to disk on UEFI (OVMF, QEMU)', () => {
  test('enlist, commission, deploy -> the disk boots through localboot.efi and shim -> Deployed; ssh in', async () => {
    const machine = await lab.waitForMachine(mac, vm, phaseMs);
    lab.cli(['machines', 'set', machine.id, '--power', `qemu:${lab.qmpSocket(0)}`]);
    lab.cli(['machines', 'commission', machine.id, '--skip-tests']);
    expect((await lab.waitForState(machine.id, ['Ready', 'Failed commissioning'], phaseMs, vm)).state).toBe('Ready');

    const started = Date.now();
    lab.cli(['machines', 'deploy', machine.id, '--ssh-key', readFileSync(`${key()}.pub`, 'utf8').trim()]);
    const done = await lab.waitForState(machine.id, ['Deployed', 'Failed deployment', 'Allocated'], deployMs, vm);
    expect(done.state, `${done.statusMessage}\n${lab.cli(['machines', 'results', machine.id, '--limit', '1'])}`).toBe('Deployed');
    console.log(`deployed on UEFI in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // The hand-off: the local answer chained localboot.efi, which found the disk's removable-path loader.
    const files = lab.store().events.forMachine(machine.id).filter((e) => e.type === 'file').map((e) => e.detail);
    expect(files.some((d) => d.startsWith('localboot')), files.join('\n')).toBe(true);

    const address = lab.store().leases.byMac(mac)!.ip;
    const { command, args } = lab.network.exec('ssh', [
      '-i', key(), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
      `debian@${address}`, 'test -d /sys/firmware/efi && echo uefi; findmnt -no SOURCE /boot/efi; sudo ls /boot/efi/EFI/BOOT',
    ]);
    const answer = execFileSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    expect(answer).toMatch(/^uefi\n\/dev\/vda2\n/);
    expect(answer).toMatch(/BOOTX64\.EFI/);
    expect(answer).toMatch(/grubx64\.efi/);
  }, 2 * phaseMs + deployMs);
});
