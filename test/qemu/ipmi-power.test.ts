// End to end, issue 14's acceptance: a lab VM behind a real IPMI BMC (OpenIPMI's ipmi_sim, LAN side
// on lab address 10.213.0.50:623, the VM's QEMU run by the BMC's chassis program, and the VM wired
// in-band through a KCS interface: src/lab/bmc.ts). One VM, one life:
// - powered off, the operator adds the machine by its BMC alone (no MAC), with the BMC's own admin
//   account (addByBmcOnly below);
// - the appliance sets bootdev pxe and powers on through ipmi_sim: QEMU starts with -boot once=n; the
//   VM enlists, reports its BMC's address read in-band, and the appliance claims the record by it;
// - Commissioning: 30-bmc-config creates the `netboot` user in-band (/dev/ipmi0), the appliance
//   adopts it (src/machines/bmc-adoption.ts): the power settings now name netboot;
// - Testing: the appliance power-cycles with the new credentials; Ready: it powers off.
// Then, from outside the appliance (ipmitool in the lab namespace): netboot exists on the BMC, admin
// still logs in with its original password, and netboot's credentials read the chassis as off.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import type { LabBmc } from '../../src/lab/bmc.js';
import { openPowerSettings } from '../../src/power/index.js';
import { SecretBox } from '../../src/secret-box.js';
import { closeLab } from './lab-support.js';

const imagesDir = defaultImagesDir(process.env, homedir());
const mac = '52:54:00:c0:00:14';
/** One micro boot under TCG is ~40 s quiet; a busy 2-core machine can take several times that. */
const phaseMs = 300_000;
const admin = { user: 'admin', password: `Adm${randomBytes(6).toString('hex')}` };

/**
 * THE ADD STEP (one place). By the BMC alone, with no MAC, the final form (issue 14): the record waits
 * in New with no boot MAC, the appliance sets bootdev pxe and powers the machine on, the enlist agent
 * reports the BMC's LAN address (`ipmitool lan print` in-band), and the appliance claims the record
 * by it and starts commissioning. false: the earlier form, `machines add <mac> ...`, which starts
 * commissioning at once (the plumbing is the same from there; both pass).
 */
const addByBmcOnly = true;

let lab: Lab;
let bmc: LabBmc;
let machineId: string;

/** ipmitool from outside the appliance, over the BMC's LAN, in the lab namespace (where its address lives). */
function ipmitool(user: string, password: string, ...args: string[]): { status: number | null; output: string } {
  const { command, args: full } = lab.network.exec('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', bmc.address, '-U', user, '-E', ...args]);
  const r = spawnSync(command, full, { encoding: 'utf8', env: { ...process.env, IPMI_PASSWORD: password }, timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** What the BMC was asked to do (with times) and the machine's timeline: the message of a failed check. */
function story(): string {
  const asked = bmc.chassisLog().filter((l) => l.op !== 'get').map((l) => `${l.at} ${l.op} ${l.rest}`);
  const timeline = machineId ? lab.store().events.forMachine(machineId).map((e) => `${new Date(e.at).toISOString()} ${e.type} ${e.detail}`) : [];
  return `BMC was asked:\n${asked.join('\n')}\ntimeline:\n${timeline.join('\n')}`;
}

/** Waits for a life-cycle state; a failure shows the VM's serial console and what the BMC was asked. */
async function waitForState(states: readonly string[], timeoutMs = phaseMs) {
  try {
    return await lab.waitForState(machineId, states, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${story()}\nserial console:\n${bmc.consoleTail(40)}`, { cause: error });
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  lab = await Lab.start({ prefix: 'nb-test', imagesDir });
  bmc = await lab.startBmcMachine({
    mac, uuid: '6e657462-6f6f-4c61-8062-c00000000014', memoryMiB: 512, cpus: 2, accel: 'tcg',
    user: admin.user, password: admin.password, lifetimeSeconds: 1800,
  });
}, 900_000);

afterAll(async () => {
  await closeLab(lab);
  // closeLab stopped ipmi_sim and the QEMU it ran, by PID.
  expect(bmc?.vmPid()).toBeUndefined();
}, 60_000);

describe('a machine behind an IPMI BMC (ipmi_sim + QEMU), added by its BMC', () => {
  test('powered off behind its BMC; added with the BMC admin account, the appliance sets bootdev pxe and powers it on', async () => {
    expect(ipmitool(admin.user, admin.password, 'chassis', 'power', 'status').output).toMatch(/Chassis Power is off/);
    expect(bmc.vmPid()).toBeUndefined();

    const passwordFile = join(lab.dir, 'bmc-admin.pw');
    writeFileSync(passwordFile, `${admin.password}\n`, { mode: 0o600 });
    const power = ['--power', 'ipmi', '--address', bmc.address, '--user', admin.user, '--password-file', passwordFile];
    const added = JSON.parse(lab.cli(addByBmcOnly ? ['machines', 'add', ...power, '--json'] : ['machines', 'add', mac, ...power, '--json'])) as { id: string; bootMac: string | null };
    machineId = added.id;
    expect(added.bootMac).toBe(addByBmcOnly ? null : mac);

    // By its BMC alone, the machine first boots to enlist and report its BMC; then commissioning starts.
    await waitForState(['Commissioning', 'Failed commissioning'], addByBmcOnly ? phaseMs : 60_000);
    if (addByBmcOnly) {
      // The enlist agent read the BMC's LAN address over the KCS, and that claimed the waiting record.
      const timeline = lab.store().events.forMachine(machineId).map((e) => `${e.type}: ${e.detail}`);
      expect(timeline).toContainEqual(expect.stringMatching(new RegExp(`^enlisted: .*boot MAC ${mac}, matched by its BMC at ${bmc.address.replaceAll('.', '\\.')}$`)));
      expect(lab.store().machines.get(machineId)?.inventory?.bmc?.address).toBe(bmc.address);
    }
    // bootdev pxe reached the chassis before the power-on, and the power-on used it (once).
    await until('QEMU to start behind the BMC', () => bmc.vmPid() !== undefined, 30_000);
    const asked = bmc.chassisLog().filter((l) => l.op === 'set' || l.op === 'start').map((l) => `${l.op} ${l.rest}`.trim());
    expect(asked.slice(0, 3)).toEqual(['set boot pxe', 'set power 1', 'start -boot once=n']);
  }, addByBmcOnly ? phaseMs + 60_000 : 120_000);

  test('Commissioning -> Testing: 30-bmc-config made user netboot in-band and the appliance adopted it', async () => {
    const testing = await waitForState(['Testing', 'Failed commissioning', 'Failed testing', 'Ready']);
    expect(testing.state, lab.cli(['machines', 'results', machineId])).toBe('Testing');
    // In-band: micro's ipmi_si found the KCS interface (/dev/ipmi0), and 30-bmc-config read the BMC's
    // LAN address and made the user through it.
    const run = lab.store().scripts.runs(machineId).find((r) => r.phase === 'commissioning')!;
    const result = (name: string) => run.results.find((r) => r.name === name)!;
    expect(JSON.parse(result('20-bmc').files['bmc.json']!.toString())).toMatchObject({ present: true, devices: ['/dev/ipmi0'] });
    expect(result('30-bmc-config').exitCode).toBe(0);
    expect(result('30-bmc-config').stdout.toString()).toMatch(new RegExp(`BMC user netboot in slot \\d+, ADMINISTRATOR on LAN channel 1; BMC at ${bmc.address.replaceAll('.', '\\.')}`));

    // The switch runs in the machine's power queue, and may still be probing the new user as Testing starts.
    await until('the appliance to adopt user netboot', () => lab.store().machines.get(machineId)?.power.user === 'netboot', 30_000);
    const shown = lab.cli(['machines', 'show', machineId, '--json']);
    const view = JSON.parse(shown) as { power: Record<string, unknown>; bootMac: string };
    expect(view.power).toMatchObject({ type: 'ipmi', address: bmc.address, user: 'netboot' });
    expect(view.power.password).toBeUndefined(); // a secret is never shown
    expect(shown).not.toContain(admin.password);
    expect(view.bootMac).toBe(mac);
    expect(lab.cli(['machines', 'results', machineId])).toMatch(/30-bmc-config\s+passed/);
  }, phaseMs + 60_000);

  test('Testing -> Ready: power-cycled with the netboot credentials, then powered off', async () => {
    const ready = await waitForState(['Ready', 'Failed testing', 'Failed commissioning']);
    expect(ready.state, lab.cli(['machines', 'results', machineId])).toBe('Ready');
    // Every power-on went through the BMC and from the network: commissioning's and testing's (and,
    // added by the BMC alone, enlistment's if the appliance powers it on again to commission).
    const powerOns = bmc.powerOns();
    expect(powerOns.length, story()).toBeGreaterThanOrEqual(2);
    expect(powerOns.every((args) => args === '-boot once=n'), story()).toBe(true);
    await until('the appliance to power the machine off at Ready', () => bmc.vmPid() === undefined, 60_000);

    const timeline = lab.store().events.forMachine(machineId).map((e) => `${e.type} ${e.detail}`);
    expect(timeline.filter((line) => /^power (on|cycle|off) \(ipmi\)$/.test(line)).length).toBeGreaterThanOrEqual(3);
    // The adoption was done before Testing's power cycle went out (it runs in the machine's power
    // queue, and queued actions read the settings as stored when they run): user netboot cycled it.
    const adopted = timeline.indexOf('note power settings changed (ipmi)');
    const testing = timeline.indexOf('state Commissioning -> Testing');
    const testingPower = timeline.findIndex((line, i) => i > testing && /^power (on|cycle) \(ipmi\)$/.test(line));
    expect(adopted, timeline.join('\n')).toBeGreaterThanOrEqual(0);
    expect(testingPower, timeline.join('\n')).toBeGreaterThan(adopted);
    expect(timeline.slice(testing)).toContain('state Testing -> Ready');
    expect(timeline.slice(timeline.indexOf('state Testing -> Ready'))).toContain('power off (ipmi)');

    // The stored settings, opened with the data directory's key: the operator's view of them.
    const stored = openPowerSettings(lab.store().machines.get(machineId)!.power, SecretBox.forDataDir(lab.dataDir));
    expect(stored).toMatchObject({ type: 'ipmi', address: bmc.address, user: 'netboot' });
    const netbootPassword = String(stored.password);
    expect(netbootPassword).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(ipmitool('netboot', netbootPassword, 'chassis', 'power', 'status').output, story()).toMatch(/Chassis Power is off/);

    const users = ipmitool(admin.user, admin.password, 'user', 'list', '1');
    expect(users.status).toBe(0);
    expect(users.output).toMatch(/^2\s+admin\s+true\s+\w+\s+\w+\s+ADMINISTRATOR/m);
    expect(users.output).toMatch(/^\d+\s+netboot\s+true\s+true\s+true\s+ADMINISTRATOR/m);
  }, phaseMs + 120_000);
});
