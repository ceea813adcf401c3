import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseTftpName, tftpNamespace } from '../../src/tftp/namespace.js';
import { renderGrubConfig, renderGrubFallback } from '../../src/tftp/grub-config.js';
import { loaderChoice, tftpLoaderFiles } from '../../src/boot-loaders.js';
import { loadConfig } from '../../src/config/index.js';
import type { TftpFiles, TftpSource } from '../../src/tftp/files.js';
import type { BootClient, BootSpec, MachineEventInput } from '../../src/machines/boot.js';
import { tempDir } from '../support/fixtures.js';
import { expectGolden } from '../support/golden.js';

const mac = '52:54:00:6e:75:03';
const kernelId = 'a'.repeat(64);
const enlist: BootSpec = {
  purpose: 'enlist', kernel: kernelId, initrd: ['b'.repeat(64)], rootfs: 'c'.repeat(64),
  cmdline: `console=ttyS0,115200n8 BOOTIF=01-52-54-00-6e-75-03 netboot.rootfs=http://10.213.0.1/files/${'c'.repeat(64)}?mac=${mac} ds=nocloud-net;s=http://x/`,
};

async function readAll(source: TftpSource | null): Promise<string> {
  if (!source) throw new Error('no such file');
  const text = (await source.read(0, source.size)).toString();
  await source.close();
  return text;
}

describe('TFTP namespace', () => {
  let dir: ReturnType<typeof tempDir>;
  let files: TftpFiles;
  let events: MachineEventInput[];
  let asked: BootClient[];
  const client = (address: string) => ({ address, port: 1234 });

  beforeEach(() => {
    dir = tempDir();
    writeFileSync(join(dir.path, 'shim'), 'signed shim');
    writeFileSync(join(dir.path, 'kernel'), 'kernel bytes');
    events = [];
    asked = [];
    files = tftpNamespace({
      loaders: { 'efi/bootx64.efi': join(dir.path, 'shim'), 'snponly.efi': join(dir.path, 'not-installed') },
      images: { fileById: (id) => (id === kernelId ? { path: join(dir.path, 'kernel') } : undefined) },
      booter: { bootSpec: async (c) => { asked.push(c); return c.mac === mac ? enlist : null; } },
      events: { record: (e) => events.push(e) },
      macOfAddress: (ip) => ({ '10.213.0.100': mac, '10.213.0.101': '52:54:00:00:00:01' } as Record<string, string>)[ip],
    });
  });
  afterEach(() => dir.cleanup());

  test.each([
    ['/efi/bootx64.efi', 'efi/bootx64.efi'], ['efi//bootx64.efi', 'efi/bootx64.efi'],
    ['\\efi\\bootx64.efi', 'efi/bootx64.efi'], ['//grub/grub.cfg', 'grub/grub.cfg'],
  ])('normalises %s', (raw, want) => expect(normaliseTftpName(raw)).toBe(want));

  test('loaders and image files by name; everything else is not found', async () => {
    expect(await readAll(await files.open('/efi/bootx64.efi', client('10.213.0.100')))).toBe('signed shim');
    expect(await readAll(await files.open(`files/${kernelId}`, client('10.213.0.100')))).toBe('kernel bytes');
    for (const name of ['snponly.efi', `files/${'f'.repeat(64)}`, 'files/../shim', '../../etc/passwd', '/etc/passwd', 'efi', 'constructor']) {
      expect(await files.open(name, client('10.213.0.100')), name).toBeNull();
    }
  });

  test('grub.cfg is rendered from the Booter for the MAC leasing the client address', async () => {
    const cfg = await readAll(await files.open('/grub/grub.cfg', client('10.213.0.100')));
    expect(cfg).toBe(renderGrubConfig(enlist, mac));
    expect(asked).toEqual([{ mac, arch: 'x86_64-efi', firmware: 'uefi-pxe' }]);
    expect(events).toEqual([{ mac, type: 'grub-config', detail: 'enlist' }]);
    expect(await readAll(await files.open('grub/grub.cfg', client('10.213.0.9')))).toBe(
      renderGrubFallback('no DHCP lease for 10.213.0.9: cannot tell which machine this is'));
    expect(await readAll(await files.open('grub/grub.cfg', client('10.213.0.101')))).toMatch(/is not served here/);
  });
});

describe('grub.cfg rendering', () => {
  test('enlist, local and fallback (golden)', () => {
    const text = [renderGrubConfig(enlist, mac), renderGrubConfig({ purpose: 'local' }, mac), renderGrubFallback('why "not"')].join('\n');
    expectGolden('testdata/tftp/grub.cfg.txt', text);
    // The kernel arguments reach Linux unchanged: `;` and `?` are quoted away from grub's parser.
    expect(text).toContain(`'ds=nocloud-net;s=http://x/'`);
    expect(text).toContain(`'netboot.rootfs=http://10.213.0.1/files/${'c'.repeat(64)}?mac=${mac}'`);
  });
});

describe('loader choice from config', () => {
  test.each([
    ['snponly', 'snponly.efi'], ['ipxe', 'ipxe.efi'], ['shim', 'efi/bootx64.efi'],
  ] as const)('uefiLoader %s -> %s over TFTP, ipxe.efi for HTTP Boot', (uefiLoader, name) => {
    const config = loadConfig({ overrides: { 'boot.uefiLoader': uefiLoader } });
    expect(loaderChoice(config.boot, 'http://10.213.0.1')).toEqual({ uefiPxe: name, uefiHttp: 'http://10.213.0.1/loaders/ipxe.efi' });
    expect(Object.keys(tftpLoaderFiles(config.boot))).toContain(name);
  });

  test('HTTP Boot can be switched off', () => {
    const config = loadConfig({ overrides: { 'boot.httpBoot': false } });
    expect(loaderChoice(config.boot, 'http://x')).toEqual({ uefiPxe: 'snponly.efi' });
  });
});
