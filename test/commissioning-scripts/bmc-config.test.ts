// commissioning/builtin/30-bmc-config against a real BMC: OpenIPMI's ipmi_sim on a loopback UDP port,
// reached by ipmitool over LAN instead of /dev/ipmi0 (IPMITOOL). The user it creates must then log in
// over LAN with the password from bmc-credentials.json, the password must never reach the script's
// output, and the BMC's own admin must keep working. Run under busybox sh, as in the micro image.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from '../images/fixtures.js';
import { ADMIN, IpmiSim, ipmiSimAvailable, type IpmiSimOptions } from './ipmi-sim.js';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../commissioning/builtin/30-bmc-config');
const hasBusybox = spawnSync('busybox', ['true']).status === 0;

interface Run { code: number | null; stdout: string; stderr: string; credentials: Record<string, unknown> | undefined }

let tmp: ReturnType<typeof tempDir>;
let sim: IpmiSim | undefined;
beforeEach(() => { tmp = tempDir('bmc-config'); });
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  tmp.remove();
});

async function startSim(options: IpmiSimOptions = {}): Promise<IpmiSim> {
  sim = await IpmiSim.start(join(tmp.path, 'bmc'), options);
  return sim;
}

let runs = 0;
/** One run of the script the way the runner starts it: a fresh output folder, the parameters in the environment. */
function runScript(env: Record<string, string>): Promise<Run> {
  const out = join(tmp.path, `output-${++runs}`);
  mkdirSync(out);
  return new Promise((resolvePromise) => {
    const child = spawn('busybox', ['sh', script], {
      env: { PATH: process.env.PATH, NETBOOT_OUTPUT_DIR: out, TMPDIR: tmp.path, IPMI_PASSWORD: ADMIN.password, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      const files = readdirSync(out);
      const credentials = files.includes('bmc-credentials.json')
        ? JSON.parse(readFileSync(join(out, 'bmc-credentials.json'), 'utf8')) as Record<string, unknown>
        : undefined;
      if (credentials) expect(statSync(join(out, 'bmc-credentials.json')).mode & 0o777).toBe(0o600);
      expect(files.filter((f) => f !== 'bmc-credentials.json')).toEqual([]);
      resolvePromise({ code, stdout, stderr, credentials });
    });
  });
}
const overLan = (bmc: IpmiSim): Record<string, string> => ({ IPMITOOL: bmc.ipmitool().join(' ') });

describe.skipIf(!hasBusybox || !ipmiSimAvailable)('30-bmc-config against ipmi_sim', () => {
  test('creates an administrator that logs in over LAN; a second run reuses its slot with a new password', { timeout: 60_000 }, async () => {
    const bmc = await startSim();
    const first = await runScript(overLan(bmc));
    expect(first.code, first.stderr).toBe(0);
    expect(first.credentials).toEqual({
      driver: 'ipmi', address: '10.0.0.5', mac: '52:54:00:aa:bb:cc', channel: 1,
      user: 'netboot', password: expect.stringMatching(/^[A-Za-z0-9]{16}$/), created: true,
    });
    expect(first.stdout).toBe('BMC user netboot in slot 3, ADMINISTRATOR on LAN channel 1; BMC at 10.0.0.5 (MAC 52:54:00:aa:bb:cc, LAN channel 1)\n');
    const password = first.credentials!.password as string;
    expect(`${first.stdout}${first.stderr}`).not.toContain(password);

    const login = bmc.run('netboot', password, 'chassis', 'power', 'status');
    expect(login.output).toContain('Chassis Power is off');
    expect(login.status).toBe(0);
    expect(bmc.run(ADMIN.user, ADMIN.password, 'user', 'list', '1').output).toMatch(/^3\s+netboot\s+true\s+true\s+true\s+ADMINISTRATOR$/m);

    const second = await runScript(overLan(bmc));
    expect(second.code, second.stderr).toBe(0);
    expect(second.credentials).toMatchObject({ user: 'netboot', created: true });
    const renewed = second.credentials!.password as string;
    expect(renewed).not.toBe(password);
    expect(second.stdout).toMatch(/^BMC user netboot in slot 3 \(reused, new password\), ADMINISTRATOR on LAN channel 1;/);
    expect(`${second.stdout}${second.stderr}`).not.toContain(renewed);
    expect(bmc.run('netboot', renewed, 'chassis', 'power', 'status').output).toContain('Chassis Power is off');
    const old = bmc.run('netboot', password, 'chassis', 'power', 'status');
    expect(old.status).not.toBe(0);
    expect(old.output).toContain('Unable to establish IPMI v2 / RMCP+ session');
    // The BMC's own administrator is untouched, and no third user appeared.
    expect(bmc.run(ADMIN.user, ADMIN.password, 'chassis', 'power', 'status').output).toContain('Chassis Power is off');
    const users = bmc.run(ADMIN.user, ADMIN.password, 'user', 'list', '1').output;
    expect(users.match(/^\d+\s+[a-z]\S*\s+true/gm)).toEqual([expect.stringMatching(/^2\s+admin/), expect.stringMatching(/^3\s+netboot/)]);
  });

  test('BMC_USERNAME picks the name; another named user\'s slot is never taken', { timeout: 60_000 }, async () => {
    const bmc = await startSim();
    bmc.run(ADMIN.user, ADMIN.password, 'user', 'set', 'name', '3', 'operator1');
    const r = await runScript({ ...overLan(bmc), BMC_USERNAME: 'maas-x' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.credentials).toMatchObject({ user: 'maas-x', created: true });
    expect(r.stdout).toMatch(/^BMC user maas-x in slot 4,/);
    expect(bmc.run('maas-x', r.credentials!.password as string, 'chassis', 'power', 'status').output).toContain('Chassis Power is off');
    expect(bmc.run(ADMIN.user, ADMIN.password, 'user', 'list', '1').output).toMatch(/^3\s+operator1\s/m);
  });

  test('BMC_CREATE_USER=0 creates nobody but reports the address', { timeout: 60_000 }, async () => {
    const bmc = await startSim();
    const r = await runScript({ ...overLan(bmc), BMC_CREATE_USER: '0' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.credentials).toEqual({ driver: 'ipmi', address: '10.0.0.5', mac: '52:54:00:aa:bb:cc', channel: 1, created: false });
    expect(r.stdout).toBe('BMC at 10.0.0.5 (MAC 52:54:00:aa:bb:cc, LAN channel 1); no user created (BMC_CREATE_USER=0)\n');
    expect(bmc.run(ADMIN.user, ADMIN.password, 'user', 'list', '1').output).not.toMatch(/^3\s+\S+\s+true/m);
  });

  test('a BMC without an address says so clearly and still reports 0.0.0.0', { timeout: 60_000 }, async () => {
    const bmc = await startSim({ ip: '0.0.0.0' });
    const r = await runScript({ ...overLan(bmc), BMC_CREATE_USER: '0' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.credentials).toMatchObject({ address: '0.0.0.0', created: false });
    expect(r.stdout).toContain('BMC LAN channel 1 has no address (0.0.0.0): it cannot be managed over the network until it has one');
  });
});

describe.skipIf(!hasBusybox)('30-bmc-config without a BMC, or with bad parameters', () => {
  test('no /dev/ipmi0: says so, exit 0, no file', async () => {
    mkdirSync(join(tmp.path, 'root', 'dev'), { recursive: true });
    const r = await runScript({ NETBOOT_SYSROOT: join(tmp.path, 'root') });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^no BMC reachable in-band \(no \/dev\/ipmi0/);
    expect(r.credentials).toBeUndefined();
  });

  test('a BMC that answers no LAN command: exit 0, no file', async () => {
    // QEMU's built-in ipmi-bmc-sim answers like this (recipes/bmc.md 1.5): no LAN side at all.
    const fake = join(tmp.path, 'fake-ipmitool');
    writeFileSync(fake, 'echo "IANA PEN registry open failed: No such file or directory" >&2\necho "Get Channel Info command failed: Invalid command"\necho "Invalid channel: 1"\nexit 1\n');
    const r = await runScript({ IPMITOOL: `busybox sh ${fake}` });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('the BMC answers but has no LAN channel to manage it by (lan print 1: Get Channel Info command failed: Invalid command)\n');
    expect(r.credentials).toBeUndefined();
  });

  test.each([
    ['BMC_USERNAME', 'bad name', /only letters, digits/], ['BMC_USERNAME', 'a-very-long-username', /longer than the 16 bytes/],
    ['BMC_CREATE_USER', 'yes', /must be 0 or 1/],
  ])('%s=%s is refused', async (name, value, why) => {
    const r = await runScript({ [name]: value, IPMITOOL: 'false' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(why);
  });
});
