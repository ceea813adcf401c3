// End to end, one boot per x86 firmware path (FACTS.md), each to enlistment with the micro image:
// OVMF native PXE -> snponly.efi (TFTP) -> iPXE -> HTTP; OVMF UEFI HTTP Boot -> ipxe.efi (HTTP);
// OVMF Secure Boot -> shim -> grub -> signed kernel (TFTP); and an unsigned loader refused under
// Secure Boot. SeaBIOS + iPXE ROM is test/qemu/enlist.test.ts. Root, qemu-system-x86, ovmf, ipxe,
// shim-signed, grub-efi-amd64-signed (scripts/install-deps.sh).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { homedir } from 'node:os';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab, type LabOptions } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';
import type { VmFirmware } from '../../src/lab/qemu.js';
import type { Launched } from '../../src/lab/launcher.js';
import { ackToScriptMs, maxAckToScriptMs } from './boot-gap.js';

// OVMF under TCG adds ~10 s of firmware start to the 25-50 s of a BIOS boot (FACTS.md).
const enlistTimeoutMs = 300_000;
const imagesDir = defaultImagesDir(process.env, homedir());
let lab: Lab | undefined;
let vm: Launched | undefined;

beforeAll(async () => {
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
}, 900_000);

afterEach(async () => {
  const namespace = lab?.network.name;
  await lab?.close();
  lab = undefined;
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
  if (vm) expect(vm.running).toBe(false);
  vm = undefined;
}, 60_000);

async function boot(firmware: VmFirmware, mac: string, options: Partial<LabOptions> = {}): Promise<Launched> {
  lab = await Lab.start({ prefix: 'nb-test', imagesDir, ...options });
  vm = await lab.bootVm({ mac, uuid: `6e657462-6f6f-4c61-8062-${mac.replaceAll(':', '')}`, memoryMiB: 512, cpus: 2, accel: 'tcg', firmware });
  return vm;
}

async function enlistedTimeline(mac: string): Promise<string[]> {
  const started = Date.now();
  const machine = await lab!.waitForMachine(mac, vm!, enlistTimeoutMs);
  console.log(`${mac} enlisted ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started`);
  expect(machine.state).toBe('New');
  expect(machine.inventory?.nics).toContainEqual(expect.objectContaining({ mac, driver: 'virtio_net' }));
  const events = lab!.store().events.forMachine(machine.id);
  if (events.some((e) => e.type === 'ipxe-script')) {
    // The appliance's IPv6 RA ends iPXE's ~14 s wait for a router (issue 17).
    const gap = ackToScriptMs(events);
    console.log(`${mac} DHCP ACK -> iPXE script: ${(gap / 1000).toFixed(1)} s`);
    expect(gap).toBeLessThan(maxAckToScriptMs);
  }
  return events.map((e) => `${e.type} ${e.detail}`.trim());
}

describe('x86 firmware boot paths (QEMU, OVMF, TCG)', () => {
  test('OVMF native PXE: snponly.efi over TFTP, then iPXE over HTTP', async () => {
    await boot('uefi-pxe', '52:54:00:6e:75:01');
    const timeline = await enlistedTimeline('52:54:00:6e:75:01');
    expect(timeline.some((e) => /^tftp-sent snponly\.efi /.test(e))).toBe(true);
    expect(timeline).toContain('ipxe-script enlist');
    expect(timeline.indexOf(timeline.find((e) => e.startsWith('tftp-sent'))!)).toBeLessThan(timeline.indexOf('ipxe-script enlist'));
  }, enlistTimeoutMs + 60_000);

  test('OVMF UEFI HTTP Boot: ipxe.efi over HTTP, no TFTP at all', async () => {
    await boot('uefi-http', '52:54:00:6e:75:02');
    const timeline = await enlistedTimeline('52:54:00:6e:75:02');
    expect(timeline).toContain('file loader ipxe.efi');
    expect(timeline).toContain('ipxe-script enlist');
    expect(timeline.filter((e) => e.startsWith('tftp'))).toEqual([]);
  }, enlistTimeoutMs + 60_000);

  test('OVMF Secure Boot: shim -> grub -> signed kernel, enlisted', async () => {
    await boot('secure-boot', '52:54:00:6e:75:03', { uefiLoader: 'shim' });
    const timeline = await enlistedTimeline('52:54:00:6e:75:03');
    expect(timeline.some((e) => /^tftp-sent efi\/bootx64\.efi /.test(e))).toBe(true);
    expect(timeline.some((e) => /^tftp-sent efi\/grubx64\.efi /.test(e))).toBe(true);
    expect(timeline).toContain('grub-config enlist');
    // grub fetched kernel and initrd by id over TFTP; iPXE never ran.
    expect(timeline.filter((e) => /^tftp-sent \/?files\//.test(e))).toHaveLength(2);
    expect(timeline).not.toContain('ipxe-script enlist');
  }, enlistTimeoutMs + 60_000);

  test('Secure Boot refuses the unsigned iPXE loader (documented, not hidden)', async () => {
    const machineVm = await boot('secure-boot', '52:54:00:6e:75:04', { uefiLoader: 'snponly' });
    // OVMF downloads snponly.efi, fails its signature check and says so on the console.
    const line = await machineVm.waitFor(/Access Denied|Security Violation/, enlistTimeoutMs, 'OVMF to refuse the unsigned loader');
    expect(line).toMatch(/Access Denied|Security Violation/);
    expect(lab!.store().machines.byMac('52:54:00:6e:75:04')).toBeUndefined();
    const timeline = () => lab!.store().events.since(0).map((e) => `${e.type} ${e.detail}`);
    // The transfer's end reaches the timeline from a TFTP worker, after the firmware has the file:
    // it may trail the console line by a few milliseconds.
    await expect.poll(() => timeline().some((e) => /^tftp-sent snponly\.efi /.test(e)), { timeout: 5000 }).toBe(true);
    expect(timeline().some((e) => e.startsWith('ipxe-script'))).toBe(false);
  }, enlistTimeoutMs + 60_000);
});
