// End to end: a machine that dies mid-boot times out into a clear state. A lab of its own with a short
// commissioning timeout (the lab of commission.test.ts needs a long one for real commissioning), and a
// machine added by hand, so no enlistment boot comes first: the operator adds the MAC with the qemu
// power driver, the VM's first netboot is commissioning, and the VM is killed once it has fetched its
// kernel. The timer's semantics (restarts, deadlines) are unit-tested with an injected clock
// (test/machines); this checks the whole path with a real VM and the real appliance.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { homedir } from 'node:os';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';
import type { Launched } from '../../src/lab/launcher.js';

const mac = '52:54:00:c0:00:71';
const commissioningTimeout = 60;
const bootMs = 180_000;

let lab: Lab;
let vm: Launched | undefined;

beforeAll(async () => {
  const imagesDir = defaultImagesDir(process.env, homedir());
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  lab = await Lab.start({ prefix: 'nb-test', imagesDir, lifecycle: { commissioningTimeout, testingTimeout: commissioningTimeout } });
}, 900_000);

afterAll(async () => {
  const namespace = lab?.network.name;
  await lab?.close();
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
  if (vm) expect(vm.running).toBe(false);
}, 60_000);

test('a machine added by hand and killed mid-boot ends Failed commissioning with the reason', async () => {
  // Added before its VM exists: the power cycle fails (recorded), the state and its timer stand, and the
  // VM's first netboot is the commissioning boot.
  const added = lab.cli(['machines', 'add', mac, '--power', `qemu:${lab.qmpSocket(0)}`]);
  expect(added).toMatch(/Commissioning/);
  const id = added.split(' ')[0]!;
  vm = await lab.bootVm({ mac, uuid: '6e657462-6f6f-4c61-8062-c00000000071', memoryMiB: 512, cpus: 2, accel: 'tcg', chassis: true });
  const deadline = Date.now() + bootMs;
  const fetched = () => lab.store().events.since(0).some((e) => e.mac === mac && e.type === 'kernel');
  while (!fetched()) {
    if (Date.now() > deadline) throw new Error(`no kernel download within ${bootMs / 1000} s; serial console:\n${vm.tail(40)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await vm.stop(2000); // the machine dies: no callback will come
  const failed = await lab.waitForState(id, ['Failed commissioning'], (commissioningTimeout + 60) * 1000);
  expect(failed.statusMessage).toMatch(/no callback/);
  const show = lab.cli(['machines', 'show', id]);
  expect(show).toMatch(/Failed commissioning/);
  expect(show).toMatch(/no callback within the commissioning timeout/);
}, bootMs + (commissioningTimeout + 120) * 1000);
