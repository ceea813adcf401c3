// The micro rootfs agent, run under the same busybox it boots with, in --print mode against a
// synthetic /sys and /proc: checks the JSON shape the enlist API validates and the string escaping
// (quotes, backslashes, control characters, stray Latin-1 bytes) that a real VM rarely exercises.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { fakeMachine as writeFakeMachine, put as putFile, RAM } from './fake-machine.js';
import { tempDir } from './fixtures.js';
import { Value } from '@sinclair/typebox/value';
import { InventorySchema } from '../../src/machines/inventory.js';
import { ADMIN, IpmiSim, ipmiSimAvailable } from '../commissioning-scripts/ipmi-sim.js';

const micro = resolve(dirname(fileURLToPath(import.meta.url)), '../../images/micro');
const agent = join(micro, 'rootfs', 'enlist-agent');
const hasBusybox = spawnSync('busybox', ['true']).status === 0;

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => { tmp = tempDir('agent'); });
afterEach(() => tmp.remove());

const put = (rel: string, data: string | Buffer): void => putFile(tmp.path, rel, data);
const fakeMachine = (): void => writeFakeMachine(tmp.path);

function runAgent(env: Record<string, string> = {}): { raw: Buffer; json: Record<string, unknown> } {
  const raw = execFileSync('busybox', ['sh', agent, '--print'], {
    env: { PATH: process.env.PATH, NETBOOT_SYSROOT: tmp.path, NETBOOT_BOOT_MAC: '52:54:00:12:34:56', ...env },
  });
  // fatal: throws unless the document is valid UTF-8 (RFC 8259 §8.1).
  const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  return { raw, json: JSON.parse(text) as Record<string, unknown> };
}

describe.skipIf(!hasBusybox)('enlist-agent --print (busybox sh)', () => {
  test('prints the inventory the enlist API expects', () => {
    fakeMachine();
    const { json } = runAgent();
    expect(json).toMatchObject({
      bootMac: '52:54:00:12:34:56',
      arch: expect.any(String),
      kernel: expect.any(String),
      firmware: 'bios', // no sys/firmware/efi in the fake machine
      cpu: { count: 2, model: 'QEMU Virtual CPU version 2.5+' },
      memoryBytes: RAM,
      nics: [
        { name: 'eth0', mac: '52:54:00:12:34:56', driver: 'e1000', link: true, speedMbps: 1000 },
        { name: 'eth1', mac: '52:54:00:99:99:99', driver: '', link: false, speedMbps: null },
      ],
      dmi: { vendor: 'QEMU', product: 'Standard PC (i440FX + PIIX, 1996)', serial: '', uuid: '8c3e6a4e-0000-4000-8000-000000000001' },
    });
    expect(json.disks).toEqual([
      { name: 'nvme0n1', sizeBytes: 4096, model: 'Disk "x" \\ \ufffd\ufffdA\u00e9é end', serial: 'S"N\\1', rotational: false },
      { name: 'sda', sizeBytes: 1073741824, model: 'QEMU HARDDISK', serial: 'nb-disk-1', rotational: true },
      { name: 'vda', sizeBytes: 524288, model: '', serial: 'nb-virtio', rotational: false },
    ]);
  });

  test('replaces control characters with U+FFFD, escapes stray bytes as \\u00XX, keeps valid UTF-8: the appliance accepts it', () => {
    fakeMachine();
    const { raw, json } = runAgent();
    const text = raw.toString('utf8');
    expect(text).toContain(String.raw`"model": "Disk \"x\" \\ \ufffd\ufffdA\u00e9é end"`);
    // The appliance refuses control characters in reported text (probe F7): the agent never sends any.
    expect([...Value.Errors(InventorySchema, json)]).toEqual([]);
  });

  test('falls back to MemTotal when /proc/iomem hides addresses (non-root readers)', () => {
    fakeMachine();
    put('proc/iomem', '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n');
    expect(runAgent().json.memoryBytes).toBe(500000 * 1024);
  });

  test('NETBOOT_AGENT_ROOT, the older name of NETBOOT_SYSROOT, still works', () => {
    fakeMachine();
    const raw = execFileSync('busybox', ['sh', agent, '--print'], {
      env: { PATH: process.env.PATH, NETBOOT_AGENT_ROOT: tmp.path, NETBOOT_BOOT_MAC: '52:54:00:12:34:56' },
    });
    expect(raw).toEqual(runAgent().raw);
  });

  test('a machine booted by UEFI says so (sys/firmware/efi)', () => {
    fakeMachine();
    mkdirSync(join(tmp.path, 'sys/firmware/efi'), { recursive: true });
    expect(runAgent().json.firmware).toBe('uefi');
  });

  test('empty machine: empty lists, no crash', () => {
    put('proc/cpuinfo', '');
    const { json } = runAgent();
    expect(json).toMatchObject({ nics: [], disks: [], cpu: { count: 0, model: '' }, memoryBytes: 0 });
  });
});

// The BMC's LAN address, as the agent reads it in-band (here ipmitool over LAN to a real ipmi_sim,
// IPMITOOL): how a machine added by its BMC alone is matched when it enlists (issue 14).
describe.skipIf(!hasBusybox || !ipmiSimAvailable)('enlist-agent --print: the BMC (ipmi_sim)', () => {
  let sim: IpmiSim | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  test('reports the LAN address and MAC of the first LAN channel that has an address', { timeout: 30_000 }, async () => {
    fakeMachine();
    sim = await IpmiSim.start(join(tmp.path, 'bmc'), { ip: '10.0.0.5', mac: '52:54:00:AA:BB:CC' });
    const { json } = runAgent({ IPMITOOL: sim.ipmitool().join(' '), IPMI_PASSWORD: ADMIN.password });
    expect(json.bmc).toEqual({ address: '10.0.0.5', mac: '52:54:00:aa:bb:cc' });
    expect([...Value.Errors(InventorySchema, json)]).toEqual([]);
  });

  test('a BMC whose LAN channel has no address (0.0.0.0) is not reported', { timeout: 30_000 }, async () => {
    fakeMachine();
    sim = await IpmiSim.start(join(tmp.path, 'bmc'), { ip: '0.0.0.0' });
    expect(runAgent({ IPMITOOL: sim.ipmitool().join(' '), IPMI_PASSWORD: ADMIN.password }).json).not.toHaveProperty('bmc');
  });

  test('no BMC in-band (no /dev/ipmi0, no IPMITOOL): no bmc field, nothing run', () => {
    fakeMachine();
    expect(runAgent().json).not.toHaveProperty('bmc');
  });
});

describe.skipIf(!hasBusybox)('micro recipe scripts parse', () => {
  test.each(['initrd/init', 'initrd/udhcpc.script', 'rootfs/enlist-agent', 'rootfs/runner', 'rootfs/inventory.sh'])('busybox sh -n %s', (file) => {
    expect(spawnSync('busybox', ['sh', '-n', join(micro, file)], { encoding: 'utf8' }).stderr).toBe('');
  });
});

describe('micro build scripts parse', () => {
  test.each(['build.sh', 'lib/trees.sh'])('bash -n %s', (file) => {
    expect(spawnSync('bash', ['-n', join(micro, file)], { encoding: 'utf8' }).stderr).toBe('');
  });
});
