// End to end, the life-cycle with a real VM (SeaBIOS + iPXE, TCG, micro image) and the qemu power
// driver: enlist as New; the operator (the CLI, inside the lab's namespace) commissions it; it goes
// Commissioning -> Testing -> Ready with its inventory and an automatic tag; a custom script that
// exits 1 fails commissioning with its stderr shown; without the script it commissions to Ready. A
// VM killed mid-commissioning is test/qemu/timeout.test.ts, in a lab with a short timeout of its own.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';
import type { Launched } from '../../src/lab/launcher.js';

const imagesDir = defaultImagesDir(process.env, homedir());
const mac = '52:54:00:c0:00:01';
/** A commissioning boot runs the micro image twice (commissioning, then testing): ~40 s each under TCG. */
const phaseMs = 240_000;

let lab: Lab;
let vm: Launched;
let machineId: string;

beforeAll(async () => {
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  lab = await Lab.start({ prefix: 'nb-test', imagesDir });
  vm = await lab.bootVm({
    mac, uuid: '6e657462-6f6f-4c61-8062-c00000000001', memoryMiB: 512, cpus: 2, accel: 'tcg', diskMiB: 256, chassis: true,
  });
}, 900_000);

afterAll(async () => {
  const namespace = lab?.network.name;
  await lab?.close();
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
}, 60_000);

describe('commissioning and testing (QEMU, qemu power driver)', () => {
  test('an unknown VM enlists as New and powers off (QEMU stays up as its chassis)', async () => {
    const machine = await lab.waitForMachine(mac, vm, phaseMs);
    expect(machine.state).toBe('New');
    machineId = machine.id;
    lab.cli(['tags', 'define', 'qemu-2cpu', '--definition', 'cpu_count == 2 and vendor == "QEMU"']);
    lab.cli(['machines', 'set', machineId, '--power', `qemu:${lab.qmpSocket(0)}`]);
  }, phaseMs + 60_000);

  test('commission: Commissioning -> Testing -> Ready, with inventory, results and the automatic tag', async () => {
    expect(lab.cli(['machines', 'commission', machineId])).toMatch(/Commissioning/);
    await lab.waitForState(machineId, ['Testing', 'Failed commissioning'], phaseMs, vm);
    const ready = await lab.waitForState(machineId, ['Ready', 'Failed testing', 'Failed commissioning'], phaseMs, vm);
    expect(ready.state, lab.cli(['machines', 'results', machineId])).toBe('Ready');
    expect(ready.inventory?.cpu.count).toBe(2);
    expect(ready.inventory?.disks.map((d) => d.sizeBytes)).toContain(256 * 2 ** 20);
    expect(ready.tags).toContain('qemu-2cpu');
    const results = lab.cli(['machines', 'results', machineId, '--limit', '2']);
    expect(results).toMatch(/testing, passed/);
    expect(results).toMatch(/commissioning, passed/);
    expect(results).toMatch(/00-inventory\s+passed/);
    const timeline = lab.store().events.forMachine(machineId).map((e) => `${e.type} ${e.detail}`);
    expect(timeline).toContain('state Commissioning -> Testing');
    expect(timeline).toContain('state Testing -> Ready');
  }, 2 * phaseMs + 60_000);

  test('a custom script that exits 1 fails commissioning with its stderr one command away; removed, commissioning passes', async () => {
    const script = join(lab.dir, 'fail.sh');
    writeFileSync(script, '#!/bin/sh\necho "disk controller firmware too old" >&2\nexit 1\n');
    lab.cli(['scripts', 'add', script, '--kind', 'commissioning', '--name', '40-firmware-check', '--timeout', '30']);
    lab.cli(['machines', 'commission', machineId, '--skip-tests']);
    const failed = await lab.waitForState(machineId, ['Failed commissioning', 'Ready'], phaseMs, vm);
    expect(failed.state).toBe('Failed commissioning');
    expect(failed.statusMessage).toBe('script 40-firmware-check exited 1: disk controller firmware too old');
    expect(lab.cli(['machines', 'results', machineId, '--limit', '1'])).toMatch(/40-firmware-check stderr:\n\s+disk controller firmware too old/);

    lab.cli(['scripts', 'remove', '40-firmware-check']);
    lab.cli(['machines', 'commission', machineId, '--skip-tests']);
    const ready = await lab.waitForState(machineId, ['Ready', 'Failed commissioning'], phaseMs, vm);
    expect(ready.state).toBe('Ready');
  }, 2 * phaseMs + 60_000);
});
