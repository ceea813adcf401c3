// The Booter's choice of environment for commissioning and testing: the micro runner, or systemd +
// cloud-init with a NoCloud seed when the commission image's environment is cloud-init.
import { describe, expect, test } from 'vitest';
import { LifecycleBooter, type BootImageFiles } from '../../src/machines/booter.js';
import type { LinuxBootSpec } from '../../src/machines/boot.js';
import { sampleMachine } from '../support/fixtures.js';

const files = (tag: string, environment?: 'agent' | 'cloud-init'): BootImageFiles => ({
  ...(environment ? { environment } : {}),
  files: { kernel: { id: `${tag}k` }, initrd: { id: `${tag}i` }, rootfs: { id: `${tag}r` } },
});
const images: Record<string, BootImageFiles> = { micro: files('m'), debian: files('d', 'cloud-init') };
const machine = sampleMachine({ state: 'Commissioning', bootPurpose: 'commission', token: 'tok_abcdefghijklmnop', runId: 3 });
const client = { mac: machine.bootMac!, arch: 'x86' as const, firmware: 'ipxe' as const };

function booter(commissionImage?: string) {
  return new LifecycleBooter({
    publicUrl: 'http://10.213.0.1', enlistImage: 'micro', images: { get: (name) => images[name]! },
    machines: { byMac: (mac) => (mac === machine.bootMac! ? machine : undefined) },
    ...(commissionImage ? { commissionImage } : {}),
  });
}

describe('Booter: the commissioning environment', () => {
  test('default: the micro image runs the runner as PID 1, no cloud-init arguments', async () => {
    const spec = (await booter().bootSpec(client)) as LinuxBootSpec;
    expect(spec).toMatchObject({ purpose: 'commission', kernel: 'mk', initrd: ['mi'], rootfs: 'mr' });
    expect(spec.cmdline).toContain('netboot.phase=commissioning');
    expect(spec.cmdline).toContain('netboot.token=tok_abcdefghijklmnop');
    expect(spec.cmdline).not.toMatch(/ds=|netboot\.init=|cloud-config-url/);
  });

  test('a cloud-init image boots systemd with the seed URL (ending in /) and the reporting config URL', async () => {
    const spec = (await booter('debian').bootSpec(client)) as LinuxBootSpec;
    expect(spec).toMatchObject({ purpose: 'commission', kernel: 'dk', initrd: ['di'], rootfs: 'dr' });
    const args = spec.cmdline.split(' ');
    expect(args).toContain('netboot.init=/sbin/init');
    expect(args).toContain('ds=nocloud-net;s=http://10.213.0.1/cloud-init/tok_abcdefghijklmnop/');
    expect(args).toContain('cloud-config-url=http://10.213.0.1/cloud-init/tok_abcdefghijklmnop/cloud-config');
    expect(args).toContain(`netboot.rootfs=http://10.213.0.1/files/dr?mac=${machine.bootMac!}`);
    // Linux (x86) takes at most 2048 bytes of command line.
    expect(spec.cmdline.length).toBeLessThan(2048);
  });

  test('enlistment still boots the enlistment image whatever the commission image is', async () => {
    const spec = (await booter('debian').bootSpec({ ...client, mac: '52:54:00:99:99:99' })) as LinuxBootSpec;
    expect(spec).toMatchObject({ purpose: 'enlist', kernel: 'mk' });
  });
});
