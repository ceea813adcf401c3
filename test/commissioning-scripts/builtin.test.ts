// The built-in commissioning and testing scripts (commissioning/builtin), run under the busybox the
// micro image boots with against a synthetic /sys, /proc and /dev (NETBOOT_SYSROOT): their metadata
// headers, what each writes into NETBOOT_OUTPUT_DIR and its exit status, and a whole commissioning
// and testing run through the image's runner, bundled the way the appliance bundles them.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { fakeMachine, put } from '../images/fake-machine.js';
import { tempDir } from '../images/fixtures.js';
import { b64, MachineApi, scriptsTar, TOKEN } from '../images/machine-api.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const builtinDir = join(repo, 'commissioning', 'builtin');
const rootfs = join(repo, 'images', 'micro', 'rootfs');
const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
const MAC = '52:54:00:12:34:56';

const EXPECTED = [
  ['00-inventory', 'commissioning'], ['10-pci-usb', 'commissioning'], ['20-bmc', 'commissioning'],
  ['30-bmc-config', 'commissioning'], ['50-memory', 'testing'], ['60-disk-read', 'testing'], ['70-network', 'testing'],
] as const;
const HEADER = /^# netboot-script: name=(\S+) kind=(commissioning|testing) timeout=([1-9][0-9]*)$/;
const DESCRIPTION = /^# netboot-description: \S.*$/;

interface Header { name: string; kind: string; timeout: number; description: string }
function header(file: string): Header {
  const lines = readFileSync(join(builtinDir, file), 'utf8').split('\n');
  const m = HEADER.exec(lines[1] ?? '');
  if (lines[0] !== '#!/bin/sh' || !m || !DESCRIPTION.test(lines[2] ?? '')) throw new Error(`${file}: bad header`);
  return { name: m[1]!, kind: m[2]!, timeout: Number(m[3]), description: lines[2]!.replace('# netboot-description: ', '') };
}

let tmp: ReturnType<typeof tempDir>;
let sys: string;
let out: string;
beforeEach(() => {
  tmp = tempDir('builtin');
  sys = join(tmp.path, 'root');
  out = join(tmp.path, 'output');
  mkdirSync(sys);
  mkdirSync(out);
});
afterEach(() => tmp.remove());

interface ScriptRun { code: number | null; stdout: string; stderr: string }

/** Runs one built-in script the way the runner does, minus the runner. Async: the network script
 * talks to a server in this process. */
function runScript(name: string, env: Record<string, string> = {}): Promise<ScriptRun> {
  return new Promise((resolvePromise) => {
    const child = spawn('busybox', ['sh', join(builtinDir, name)], {
      env: { PATH: process.env.PATH, NETBOOT_SYSROOT: sys, NETBOOT_OUTPUT_DIR: out, NETBOOT_LIB: rootfs, NETBOOT_BOOT_MAC: MAC, TMPDIR: tmp.path, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
const output = (file: string): unknown => JSON.parse(readFileSync(join(out, file), 'utf8'));

describe('built-in scripts: headers and syntax', () => {
  test('exactly the expected scripts, each with a valid header naming its file', () => {
    const files = readdirSync(builtinDir).sort();
    expect(files).toEqual(EXPECTED.map(([name]) => name));
    for (const [name, kind] of EXPECTED) {
      const h = header(name);
      expect(h).toMatchObject({ name, kind });
      expect(h.timeout).toBeGreaterThanOrEqual(30);
      expect(h.description.length).toBeGreaterThan(10);
      expect(statSync(join(builtinDir, name)).mode & 0o111).toBe(0o111);
    }
    expect(header('00-inventory').description).toBe('Hardware inventory: CPU, memory, disks, NICs, DMI');
  });

  test.skipIf(!busybox).each(EXPECTED.map(([name]) => name))('busybox sh -n %s', (name) => {
    const r = spawnSync('busybox', ['sh', '-n', join(builtinDir, name)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!busybox)('built-in scripts (busybox sh)', () => {
  test('00-inventory writes exactly what the enlist agent posts', async () => {
    fakeMachine(sys);
    const r = await runScript('00-inventory');
    expect(r.code, r.stderr).toBe(0);
    const agent = spawnSync('busybox', ['sh', join(rootfs, 'enlist-agent'), '--print'], {
      env: { PATH: process.env.PATH, NETBOOT_SYSROOT: sys, NETBOOT_BOOT_MAC: MAC },
    });
    expect(agent.status).toBe(0);
    expect(readFileSync(join(out, 'inventory.json'))).toEqual(agent.stdout);
    expect(output('inventory.json')).toMatchObject({ bootMac: MAC, cpu: { count: 2 }, nics: [{ name: 'eth0' }, { name: 'eth1' }] });
    expect(r.stdout).toMatch(/^2 cpus, \d+ MiB, 2 nics, 3 disks\n/);
    expect(readdirSync(out)).toEqual(['inventory.json']);
  });

  test('00-inventory fails clearly without the image library', async () => {
    const r = await runScript('00-inventory', { NETBOOT_LIB: join(tmp.path, 'nowhere') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has no');
  });

  test('10-pci-usb lists PCI and USB devices with ids, classes and drivers', async () => {
    const pci = 'sys/bus/pci/devices';
    for (const [rel, data] of Object.entries({
      '0000:00:03.0/vendor': '0x8086\n', '0000:00:03.0/device': '0x100E\n', '0000:00:03.0/class': '0x020000\n',
      '0000:00:03.0/subsystem_vendor': '0x1af4\n', '0000:00:03.0/subsystem_device': '0x1100\n', '0000:00:03.0/revision': '0x03\n',
      '0000:00:01.1/vendor': '0x8086\n', '0000:00:01.1/device': '0x7010\n', '0000:00:01.1/class': '0x10180\n',
    })) put(sys, `${pci}/${rel}`, data);
    symlinkSync('../../../bus/pci/drivers/e1000', join(sys, pci, '0000:00:03.0/driver'));
    const usb = 'sys/bus/usb/devices';
    for (const [rel, data] of Object.entries({
      'usb1/idVendor': '1d6b\n', 'usb1/idProduct': '0001\n', 'usb1/bDeviceClass': '09\n', 'usb1/speed': '12\n',
      'usb1/manufacturer': 'Linux 6.1.0-56-amd64 uhci_hcd\n', 'usb1/product': 'UHCI Host Controller\n',
      '1-1/idVendor': '0627\n', '1-1/idProduct': '0001\n', '1-1/bDeviceClass': '00\n', '1-1/speed': '1.5\n',
      '1-1/manufacturer': 'QEMU\n', '1-1/product': 'QEMU "USB" Tablet\n', '1-1/serial': '42\n',
      '1-1:1.0/bInterfaceClass': '03\n',
    })) put(sys, `${usb}/${rel}`, data);
    symlinkSync('../../../bus/usb/drivers/usb', join(sys, usb, '1-1/driver'));
    symlinkSync('../../../bus/usb/drivers/usbhid', join(sys, usb, '1-1:1.0/driver'));

    const r = await runScript('10-pci-usb');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^2 PCI devices, 2 USB devices\n/);
    expect(output('devices.json')).toEqual({
      pci: [
        { address: '0000:00:01.1', id: '8086:7010', vendor: '8086', device: '7010', subsystem: '', class: '010180', revision: '', driver: '' },
        { address: '0000:00:03.0', id: '8086:100e', vendor: '8086', device: '100e', subsystem: '1af4:1100', class: '020000', revision: '03', driver: 'e1000' },
      ],
      usb: [
        {
          address: '1-1', id: '0627:0001', vendor: '0627', product: '0001', class: '00', manufacturer: 'QEMU',
          name: 'QEMU "USB" Tablet', serial: '42', speedMbps: 1, driver: 'usb', interfaces: [{ number: '1.0', class: '03', driver: 'usbhid' }],
        },
        {
          address: 'usb1', id: '1d6b:0001', vendor: '1d6b', product: '0001', class: '09', manufacturer: 'Linux 6.1.0-56-amd64 uhci_hcd',
          name: 'UHCI Host Controller', serial: '', speedMbps: 12, driver: '', interfaces: [],
        },
      ],
    });
  });

  test('10-pci-usb on a machine without buses: empty lists', async () => {
    const r = await runScript('10-pci-usb');
    expect(r.code).toBe(0);
    expect(output('devices.json')).toEqual({ pci: [], usb: [] });
  });

  // SMBIOS type 38 (IPMI Device Information): type, length, handle, interface type, IPMI revision
  // (BCD), I2C target address, NV storage address, base address (8 bytes, LE), modifier, interrupt.
  const type38 = (iface: number, base: number[], modifier = 0): Buffer =>
    Buffer.from([38, 0x12, 0x26, 0x00, iface, 0x20, 0x20, 0xff, ...base, modifier, 0x00, 0x00, 0x00]);

  test('20-bmc finds a BMC by device node, sysfs and SMBIOS, and decodes type 38', async () => {
    put(sys, 'dev/ipmi0', '');
    mkdirSync(join(sys, 'sys/class/ipmi/ipmi0'), { recursive: true });
    put(sys, 'sys/firmware/dmi/entries/38-0/raw', type38(1, [0xa3, 0x0c, 0, 0, 0, 0, 0, 0])); // KCS, I/O 0xca2
    put(sys, 'sys/firmware/dmi/entries/38-1/raw', type38(3, [0x00, 0x00, 0xd4, 0xfe, 0, 0, 0, 0], 0x10)); // BT, memory, LS bit 1
    put(sys, 'sys/firmware/dmi/entries/38-2/raw', type38(4, [0x10, 0, 0, 0, 0, 0, 0, 0])); // SSIF at SMBus 0x10
    put(sys, 'sys/firmware/dmi/entries/38-3/raw', Buffer.from([38, 4, 0, 0])); // truncated: ignored
    const r = await runScript('20-bmc');
    expect(r.code, r.stderr).toBe(0);
    expect(output('bmc.json')).toEqual({
      present: true, devices: ['/dev/ipmi0'], sysfs: ['ipmi0'], acpiSpmi: false,
      smbios: [
        { interface: 'KCS', specVersion: '2.0', i2cAddress: '0x20', baseAddress: '0xca2', addressSpace: 'io' },
        { interface: 'BT', specVersion: '2.0', i2cAddress: '0x20', baseAddress: '0xfed40001', addressSpace: 'memory' },
        { interface: 'SSIF', specVersion: '2.0', i2cAddress: '0x20', baseAddress: '0x10', addressSpace: 'smbus' },
      ],
    });
    expect(r.stdout).toMatch(/^BMC present: device \/dev\/ipmi0, sysfs ipmi0, 3 SMBIOS type 38 entries, ACPI SPMI false\n/);
  });

  test('20-bmc: SMBIOS alone, or ACPI SPMI alone, means present; nothing at all is not a failure', async () => {
    put(sys, 'sys/firmware/acpi/tables/SPMI', 'SPMI');
    let r = await runScript('20-bmc');
    expect(r.code).toBe(0);
    expect(output('bmc.json')).toEqual({ present: true, devices: [], sysfs: [], acpiSpmi: true, smbios: [] });

    tmp.remove();
    mkdirSync(sys, { recursive: true });
    mkdirSync(out, { recursive: true });
    r = await runScript('20-bmc');
    expect(r.code).toBe(0);
    expect(output('bmc.json')).toEqual({ present: false, devices: [], sysfs: [], acpiSpmi: false, smbios: [] });
    expect(r.stdout).toMatch(/^no BMC found/);
  });

  test('50-memory tests min(MEMTEST_MIB, available / 4) and cleans up', async () => {
    put(sys, 'proc/meminfo', 'MemTotal:  1000000 kB\nMemFree:  900000 kB\nMemAvailable:  8192 kB\n');
    const scratch = join(tmp.path, 'shm');
    mkdirSync(scratch);
    let r = await runScript('50-memory', { MEMTEST_DIR: scratch });
    expect(r.code, r.stderr).toBe(0);
    expect(output('memory.json')).toEqual({ ok: true, testedBytes: 2 * 2 ** 20, availableBytes: 8192 * 1024, passes: 1 });
    expect(r.stdout).toContain('pass 1: 2 MiB ok');
    expect(readdirSync(scratch)).toEqual([]);

    put(sys, 'proc/meminfo', 'MemTotal:  1000000 kB\nMemAvailable:  900000 kB\n');
    r = await runScript('50-memory', { MEMTEST_DIR: scratch, MEMTEST_MIB: '3', MEMTEST_PASSES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(output('memory.json')).toEqual({ ok: true, testedBytes: 3 * 2 ** 20, availableBytes: 900000 * 1024, passes: 1 });
    expect(readdirSync(scratch)).toEqual([]);
  });

  test('50-memory: too little memory to test is a pass with a note; no scratch space is a failure', async () => {
    put(sys, 'proc/meminfo', 'MemTotal:  4000 kB\nMemFree:  3000 kB\n');
    let r = await runScript('50-memory');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('nothing tested');
    expect(output('memory.json')).toMatchObject({ ok: true, testedBytes: 0 });

    put(sys, 'proc/meminfo', 'MemAvailable:  900000 kB\n');
    r = await runScript('50-memory', { MEMTEST_DIR: join(tmp.path, 'missing'), MEMTEST_MIB: '1' });
    expect(r.code).toBe(1);
    expect(output('memory.json')).toMatchObject({ ok: false });
  });

  test('60-disk-read reads the start of every disk and fails on a read error', async () => {
    const disk = Buffer.alloc(3 * 2 ** 20, 7);
    put(sys, 'sys/block/vda/size', `${disk.length / 512}\n`);
    put(sys, 'dev/vda', disk);
    put(sys, 'sys/block/sr0/size', '100\n'); // optical: skipped
    put(sys, 'sys/block/loop0/size', '100\n'); // loop: skipped
    put(sys, 'sys/block/sdc/size', '0\n'); // card reader without a card: skipped
    let r = await runScript('60-disk-read');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('sdc: empty (no medium?), skipped');
    expect(output('disk-read.json')).toEqual({ disks: [{ name: 'vda', sizeBytes: disk.length, bytesRead: disk.length, ms: expect.any(Number), ok: true }] });

    r = await runScript('60-disk-read', { DISK_READ_MIB: '1' });
    expect(output('disk-read.json')).toMatchObject({ disks: [{ name: 'vda', bytesRead: 2 ** 20 }] });

    // A device that cannot be read (a folder gives EISDIR): exit 1, the others still read.
    put(sys, 'sys/block/sdb/size', '2048\n');
    mkdirSync(join(sys, 'dev/sdb'));
    r = await runScript('60-disk-read');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sdb: read error');
    expect(output('disk-read.json')).toMatchObject({ disks: [{ name: 'sdb', ok: false, bytesRead: 0 }, { name: 'vda', ok: true }] });
  });

  test('60-disk-read without disks passes with a note', async () => {
    const r = await runScript('60-disk-read');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no disks found');
    expect(output('disk-read.json')).toEqual({ disks: [] });
  });

  describe('70-network', () => {
    let api: MachineApi;
    beforeEach(async () => { api = await MachineApi.start(); });
    afterEach(() => api.close());
    const ping = (env: Record<string, string> = {}): Promise<ScriptRun> =>
      runScript('70-network', { NETBOOT_URL: api.url, NETBOOT_TOKEN: TOKEN, ...env });

    test('passes on 200 pong, sending the token', async () => {
      const r = await ping();
      expect(r.code, r.stderr).toBe(0);
      expect(api.requests).toHaveLength(1);
      expect(api.requests[0]).toMatchObject({ method: 'GET', url: '/api/v1/machine/ping', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(output('network.json')).toMatchObject({ ok: true, status: 200, attempts: 1 });
      api.answers.set('/api/v1/machine/ping', () => ({ status: 200, body: 'pong\r\n' }));
      expect((await ping()).code).toBe(0);
    });

    test.each([
      ['a wrong body', 200, 'nope'], ['another 2xx', 201, 'pong'], ['a refused token', 401, 'bad token'], ['a server error', 500, 'pong'],
    ])('fails at once on %s', async (_label, status, body) => {
      api.answers.set('/api/v1/machine/ping', () => ({ status, body }));
      const r = await ping();
      expect(r.code).toBe(1);
      expect(api.requests).toHaveLength(1);
      expect(r.stderr).toContain(`status ${status}`);
      expect(output('network.json')).toMatchObject({ ok: false, status });
    });

    test('retries a connection that fails, a bounded number of times', async () => {
      const r = await ping({ NETBOOT_URL: 'http://127.0.0.1:1', PING_ATTEMPTS: '2' });
      expect(r.code).toBe(1);
      expect(r.stderr.match(/failed \(attempt/g)).toHaveLength(2);
      expect(output('network.json')).toMatchObject({ ok: false, status: null, attempts: 2 });
    });
  });
});

describe.skipIf(!busybox)('built-in scripts through the runner', () => {
  let api: MachineApi;
  beforeEach(async () => { api = await MachineApi.start(); });
  afterEach(() => api.close());

  /** The phase's scripts as the appliance bundles them: by name, with header timeouts. The shebang
   * names the busybox shell, which is what /bin/sh is in the image (here it is dash). */
  async function bundle(kind: string, env: Record<string, Record<string, string>> = {}): Promise<Buffer> {
    const scripts = EXPECTED.filter(([, k]) => k === kind).map(([name]) => {
      const text = readFileSync(join(builtinDir, name), 'utf8').replace(/^#!\/bin\/sh\n/, `#!${busybox} sh\n`);
      return { name, timeout: header(name).timeout, content: text, ...(env[name] ? { env: env[name] } : {}) };
    });
    return scriptsTar(scripts);
  }

  function runRunner(phase: string): Promise<{ code: number | null; stdout: string }> {
    return new Promise((resolvePromise) => {
      const child = spawn('busybox', ['sh', join(rootfs, 'runner'), '--no-poweroff'], {
        env: {
          PATH: process.env.PATH, NETBOOT_ENV_FILE: join(tmp.path, 'none'), NETBOOT_RUNNER_DIR: join(tmp.path, 'work'),
          NETBOOT_URL: api.url, NETBOOT_TOKEN: TOKEN, NETBOOT_PHASE: phase, NETBOOT_BOOT_MAC: MAC,
          NETBOOT_SYSROOT: sys, TMPDIR: tmp.path, NETBOOT_RETRY_DELAY: '0.1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.on('close', (code) => resolvePromise({ code, stdout }));
    });
  }

  test('commissioning: inventory, devices and BMC results', async () => {
    fakeMachine(sys);
    put(sys, 'sys/bus/pci/devices/0000:00:03.0/vendor', '0x8086\n');
    api.tar = await bundle('commissioning');
    const run = await runRunner('commissioning');
    expect(run.code, run.stdout).toBe(0);
    const results = api.results();
    expect(results.map((r) => [r.name, r.exitCode, r.timedOut])).toEqual([
      ['00-inventory', 0, false], ['10-pci-usb', 0, false], ['20-bmc', 0, false], ['30-bmc-config', 0, false],
    ]);
    const agent = spawnSync('busybox', ['sh', join(rootfs, 'enlist-agent'), '--print'], {
      env: { PATH: process.env.PATH, NETBOOT_SYSROOT: sys, NETBOOT_BOOT_MAC: MAC },
    });
    expect(b64(results[0]!.files['inventory.json']!)).toEqual(agent.stdout);
    expect(JSON.parse(b64(results[1]!.files['devices.json']!).toString())).toMatchObject({ pci: [{ address: '0000:00:03.0', id: '8086:' }], usb: [] });
    expect(JSON.parse(b64(results[2]!.files['bmc.json']!).toString())).toMatchObject({ present: false });
    // No /dev/ipmi0 under the fake root: nothing to configure, no credentials file.
    expect(results[3]!.files).toEqual({});
    expect(JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString())).toEqual({ phase: 'commissioning' });
  });

  test('testing: memory, disk and network checks pass; parameters reach the scripts', async () => {
    put(sys, 'proc/meminfo', 'MemAvailable:  900000 kB\n');
    put(sys, 'sys/block/vda/size', '2048\n');
    put(sys, 'dev/vda', Buffer.alloc(2048 * 512));
    api.tar = await bundle('testing', { '50-memory': { MEMTEST_MIB: '2', MEMTEST_DIR: tmp.path } });
    const run = await runRunner('testing');
    expect(run.code, run.stdout).toBe(0);
    const results = api.results();
    expect(results.map((r) => [r.name, r.exitCode, r.timedOut])).toEqual([
      ['50-memory', 0, false], ['60-disk-read', 0, false], ['70-network', 0, false],
    ]);
    expect(JSON.parse(b64(results[0]!.files['memory.json']!).toString())).toMatchObject({ ok: true, testedBytes: 2 * 2 ** 20 });
    expect(JSON.parse(b64(results[1]!.files['disk-read.json']!).toString())).toMatchObject({ disks: [{ name: 'vda', bytesRead: 2048 * 512 }] });
    expect(api.to('/api/v1/machine/ping')).toHaveLength(1);
    expect(run.stdout).toContain('netboot-runner: finished testing: 3 scripts, 0 failed');
  });
});
