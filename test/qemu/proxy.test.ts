// End to end, proxy mode: a plain site DHCP server (dnsmasq with an address range and no boot options,
// in a namespace of its own on the lab bridge) hands out the address, and the appliance with
// `dhcp.mode: proxy` only tells the PXE firmware what to boot. A SeaBIOS + e1000 iPXE VM boots
// through that, enlists with the micro image, and its address is dnsmasq's, never a lease of ours.
// Then OVMF's own PXE, which takes the port-4011 path (PXE 2.1 §2.2.3) to its loader.
// Needs root, qemu-system-x86, ipxe-qemu, ovmf, ipxe, dnsmasq-base (scripts/install-deps.sh).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { homedir } from 'node:os';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab, labAddresses } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';
import { SiteDhcp } from '../../src/lab/site-dhcp.js';
import type { Launched } from '../../src/lab/launcher.js';

const vmSpec = { mac: '52:54:00:6e:70:01', uuid: '6e657462-6f6f-4c61-8062-0000000000f1', memoryMiB: 512, cpus: 2 };
const uefiSpec = { mac: '52:54:00:6e:70:02', uuid: '6e657462-6f6f-4c61-8062-0000000000f2', memoryMiB: 512, cpus: 2 };
// A TCG boot to a console marker takes 25-50 s here (FACTS.md); enlistment adds the rootfs fetch,
// OVMF ~10 s of firmware start.
const enlistTimeoutMs = 300_000;
const siteAddress = '10.213.0.2';

describe('proxy mode beside a site DHCP server (QEMU, SeaBIOS + iPXE, dnsmasq)', () => {
  let lab: Lab | undefined;
  let site: SiteDhcp | undefined;
  const vms: Launched[] = [];
  const namespaces: string[] = [];

  beforeAll(async () => {
    const imagesDir = defaultImagesDir(process.env, homedir());
    await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
    lab = await Lab.start({ prefix: 'nb-test', imagesDir, dhcpMode: 'proxy', vmCount: 2 });
    namespaces.push(lab.network.name);
    site = await SiteDhcp.start({
      network: lab.network, address: siteAddress, prefixLength: labAddresses.prefix,
      range: { start: labAddresses.poolStart, end: labAddresses.poolEnd }, dir: lab.dir,
    });
    namespaces.push(site.namespace);
  }, 900_000);

  afterAll(async () => {
    await site?.stop();
    await lab?.close();
    // Hygiene is part of the contract: nothing of ours is left behind, even when a test failed.
    for (const namespace of namespaces) expect(listNamespaces()).not.toContain(namespace);
    if (site) expect(site.process.running).toBe(false);
    for (const vm of vms) expect(vm.running).toBe(false);
  }, 60_000);

  test('the VM gets its address from dnsmasq, its boot file from us, and enlists', async () => {
    const vm = await lab!.bootVm({ ...vmSpec, accel: 'tcg', tapIndex: 0 });
    vms.push(vm);
    const started = Date.now();
    const machine = await lab!.waitForMachine(vmSpec.mac, vm, enlistTimeoutMs);
    console.log(`enlisted ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started (proxy mode)`);
    expect(machine.state).toBe('New');
    expect(machine.inventory?.nics).toContainEqual(expect.objectContaining({ mac: vmSpec.mac, driver: 'e1000' }));

    // The address is dnsmasq's: its lease file has the VM; our lease table has nothing at all.
    const siteLease = site!.leases().find((lease) => lease.mac === vmSpec.mac);
    expect(siteLease?.ip).toMatch(/^10\.213\.0\.(1\d\d)$/);
    expect(lab!.store().leases.all()).toEqual([]);
    // dnsmasq saw the VM's DHCP; it was never asked to boot anything (no boot options given).
    expect(site!.process.tail(400)).toMatch(new RegExp(`DHCPACK\\(eth0\\) ${siteLease!.ip.replaceAll('.', '\\.')} ${vmSpec.mac}`));

    await Promise.race([vm.exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    expect(vm.running).toBe(false);
    const timeline = lab!.store().events.forMachine(machine.id).map((e) => `${e.type} ${e.detail}`.trim());
    // iPXE finds its script URL in the proxy offer (PXE options present), so it never needs 4011.
    expect(timeline).toContain(`dhcp-offer proxy: http://${labAddresses.address}/boot/${vmSpec.mac}.ipxe`);
    const milestones = ['dhcp-offer', 'ipxe-script', 'kernel', 'initrd', 'rootfs', 'enlisted'];
    const types = timeline.map((e) => e.split(' ')[0]!);
    expect(milestones.filter((m) => types.includes(m))).toEqual(milestones);
    expect(types.indexOf('dhcp-offer')).toBeLessThan(types.indexOf('ipxe-script'));
    expect(types.indexOf('rootfs')).toBeLessThan(types.indexOf('enlisted'));
  }, enlistTimeoutMs + 90_000);

  test('OVMF native PXE asks again on 4011, gets snponly.efi, and enlists', async () => {
    const vm = await lab!.bootVm({ ...uefiSpec, accel: 'tcg', tapIndex: 1, firmware: 'uefi-pxe' });
    vms.push(vm);
    const started = Date.now();
    const machine = await lab!.waitForMachine(uefiSpec.mac, vm, enlistTimeoutMs);
    console.log(`enlisted ${((Date.now() - started) / 1000).toFixed(1)} s after QEMU started (proxy mode, OVMF PXE)`);
    const siteLease = site!.leases().find((lease) => lease.mac === uefiSpec.mac);
    expect(siteLease?.ip).toMatch(/^10\.213\.0\.(1\d\d)$/);
    expect(lab!.store().leases.all()).toEqual([]);

    await Promise.race([vm.exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    const timeline = lab!.store().events.forMachine(machine.id).map((e) => `${e.type} ${e.detail}`.trim());
    // The offer on 67 carries no PXE options, so EDK2 asks on 4011 with its new address (ciaddr).
    const order = ['dhcp-offer proxy: snponly.efi', 'dhcp-request proxy port 4011', 'dhcp-ack proxy: snponly.efi', 'ipxe-script enlist'];
    const at = order.map((e) => timeline.indexOf(e));
    expect(at.every((index, i) => index >= 0 && (i === 0 || index > at[i - 1]!)), timeline.join('\n')).toBe(true);
    // TFTP carries no MAC and there is no lease: the proxy's heard address names the machine.
    expect(timeline.some((e) => /^tftp-sent snponly\.efi /.test(e))).toBe(true);
    expect(machine.state).toBe('New');
    expect(timeline.some((e) => e.startsWith('enlisted '))).toBe(true);
  }, enlistTimeoutMs + 90_000);
});
