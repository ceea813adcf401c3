// End to end: a QEMU VM (SeaBIOS + the e1000 NIC's iPXE ROM, TCG) PXE-boots from the appliance in a
// network namespace of its own, runs the micro image's enlistment agent, and shows up as New with
// the hardware QEMU gave it. Needs root, qemu-system-x86 and ipxe-qemu (scripts/install-deps.sh).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { homedir } from 'node:os';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';
import type { Launched } from '../../src/lab/launcher.js';
import { ackToScriptMs, maxAckToScriptMs } from './boot-gap.js';

const vmSpec = { mac: '52:54:00:6e:74:01', uuid: '6e657462-6f6f-4c61-8062-0000000000e1', memoryMiB: 512, cpus: 2, diskMiB: 1024 };
// A TCG boot to a console marker takes 25-50 s here (FACTS.md); enlistment adds the rootfs fetch.
const enlistTimeoutMs = 240_000;

describe('PXE boot to enlistment (QEMU, SeaBIOS + iPXE)', () => {
  let lab: Lab | undefined;
  let vm: Launched | undefined;
  let namespace = '';

  beforeAll(async () => {
    const imagesDir = defaultImagesDir(process.env, homedir());
    await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
    lab = await Lab.start({ prefix: 'nb-test', imagesDir });
    namespace = lab.network.name;
  }, 900_000);

  afterAll(async () => {
    await lab?.close();
    // Hygiene is part of the contract: nothing of ours is left behind, even when a test failed.
    expect(listNamespaces()).not.toContain(namespace);
    if (vm) expect(vm.running).toBe(false);
  }, 60_000);

  test('the VM enlists as New with the hardware QEMU gave it', async () => {
    vm = await lab!.bootVm({ ...vmSpec, accel: 'tcg' });
    const started = Date.now();
    const machine = await lab!.waitForMachine(vmSpec.mac, vm, enlistTimeoutMs);
    console.log(`enlisted ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started`);

    expect(machine.state).toBe('New');
    expect(machine.bootMac).toBe(vmSpec.mac);
    expect(machine.uuid).toBe(vmSpec.uuid);
    const inv = machine.inventory!;
    expect(inv.arch).toBe('x86_64');
    expect(inv.cpu.count).toBe(vmSpec.cpus);
    // "System RAM" in /proc/iomem misses the BIOS areas below 1 MiB and a few reserved pages.
    expect(inv.memoryBytes).toBeLessThanOrEqual(vmSpec.memoryMiB * 2 ** 20);
    expect(inv.memoryBytes).toBeGreaterThan(vmSpec.memoryMiB * 0.95 * 2 ** 20);
    expect(inv.disks).toContainEqual(expect.objectContaining({ sizeBytes: vmSpec.diskMiB * 2 ** 20, serial: 'nb-disk-0' }));
    expect(inv.nics).toContainEqual(expect.objectContaining({ mac: vmSpec.mac, driver: 'e1000', link: true }));
    expect(inv.dmi.uuid.toLowerCase()).toBe(vmSpec.uuid);

    // The VM powers itself off after posting; -no-reboot turns that into a QEMU exit.
    await Promise.race([vm.exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    expect(vm.running).toBe(false);

    const events = lab!.store().events.forMachine(machine.id);
    const gap = ackToScriptMs(events);
    console.log(`DHCP ACK -> iPXE script: ${(gap / 1000).toFixed(1)} s`);
    expect(gap).toBeLessThan(maxAckToScriptMs); // the appliance's IPv6 RA ends iPXE's wait (issue 17)
    const timeline = events.map((e) => e.type);
    const milestones: string[] = ['dhcp-offer', 'dhcp-ack', 'ipxe-script', 'kernel', 'initrd', 'rootfs', 'enlisted'];
    expect(milestones.filter((m) => (timeline as string[]).includes(m))).toEqual(milestones);
    expect(timeline.indexOf('ipxe-script')).toBeLessThan(timeline.indexOf('kernel'));
    expect(timeline.indexOf('rootfs')).toBeLessThan(timeline.indexOf('enlisted'));
    expect(lab!.store().machines.list()).toHaveLength(1);
  }, enlistTimeoutMs + 90_000);
});
