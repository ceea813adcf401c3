// End to end with real cloud-init: a VM (SeaBIOS + iPXE, TCG) enlists with the micro image, then is
// commissioned and tested in the debian image (systemd + Debian's cloud-init 22.4), which takes its
// NoCloud seed from us, runs the operator's user-data part and our runner part, reports its stages
// to our webhook, and powers off; the machine ends Ready with the scripts' results on record.
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
const mac = '52:54:00:c1:00:01';
/** One boot of the debian image under TCG: ~90 s to cloud-init's end here (FACTS.md); 4x margin. */
const phaseMs = 400_000;

let lab: Lab;
let vm: Launched;

beforeAll(async () => {
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  // 2-4 minutes the first time on two cores (mmdebstrap + squashfs); cached afterwards.
  await buildImage({ name: 'debian', imagesDir, recipesDir, force: false, onProgress: (line) => console.log(`images/debian: ${line}`) });
  lab = await Lab.start({
    prefix: 'nb-test', imagesDir, commissionImage: 'debian',
    lifecycle: { commissioningTimeout: phaseMs / 1000, testingTimeout: phaseMs / 1000 },
  });
  vm = await lab.bootVm({
    mac, uuid: '6e657462-6f6f-4c61-8062-c10000000001', memoryMiB: 1536, cpus: 2, accel: 'tcg', diskMiB: 256, chassis: true,
  });
}, 1_800_000);

afterAll(async () => {
  const namespace = lab?.network.name;
  await lab?.close();
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
}, 60_000);

describe('commissioning in the debian image with real cloud-init (QEMU)', () => {
  test('New -> Commissioning -> Testing -> Ready, driven by our NoCloud data, stages on the timeline', async () => {
    const machine = await lab.waitForMachine(mac, vm, 240_000);
    lab.cli(['machines', 'set', machine.id, '--power', `qemu:${lab.qmpSocket(0)}`]);
    const userData = join(lab.dir, 'operator-user-data.yaml');
    writeFileSync(userData, '#cloud-config\nruncmd:\n  - [sh, -c, "echo netboot-test: operator part ran > /dev/ttyS0"]\n');
    expect(lab.cli(['machines', 'user-data', machine.id, '--file', userData])).toMatch(/valid for cloud-init schema/);

    const started = Date.now();
    lab.cli(['machines', 'commission', machine.id]);
    await lab.waitForState(machine.id, ['Testing', 'Failed commissioning'], phaseMs, vm);
    const ready = await lab.waitForState(machine.id, ['Ready', 'Failed testing', 'Failed commissioning'], phaseMs, vm);
    console.log(`commissioned and tested to ${ready.state} in ${((Date.now() - started) / 1000).toFixed(1)} s (two debian boots)`);
    expect(ready.state, lab.cli(['machines', 'results', machine.id])).toBe('Ready');

    // The operator's part and ours both ran, in cloud-init's modules-final.
    await vm.waitFor(/netboot-test: operator part ran/, 10_000, "the operator's runcmd");
    await vm.waitFor(/netboot: cloud-init finished testing/, 10_000, "cloud-init's final message");
    const results = lab.cli(['machines', 'results', machine.id, '--limit', '2']);
    for (const script of ['00-inventory', '50-memory', '60-disk-read', '70-network']) expect(results).toContain(script);
    const inventory = lab.store().machines.get(machine.id)!.inventory!;
    expect(inventory.cpu.count).toBe(2);
    expect(inventory.nics.map((n) => n.mac)).toContain(mac);

    // cloud-init's own stages, reported to our webhook, on the machine's timeline (per run).
    const timeline = lab.store().events.forMachine(machine.id).filter((e) => e.type === 'cloud-init').map((e) => e.detail);
    for (const entry of [
      'fetched cloud-config', 'fetched meta-data', 'fetched user-data', 'fetched vendor-data',
      'init-local finish SUCCESS', 'init-network finish SUCCESS', 'modules-config finish SUCCESS', 'modules-final finish SUCCESS',
    ]) expect(timeline, timeline.join('\n')).toContain(entry);
    // A stage's start is published before cloud-init has read the reporting config: never sent.
    expect(timeline.filter((d) => / start$/.test(d)), timeline.join('\n')).toEqual([]);
    expect(timeline.filter((d) => d.startsWith('finished')).length, timeline.join('\n')).toBe(2); // phone_home, once per phase

    // netboot-finished.service ends each phase only after cloud-final: the machine left Testing after
    // that run's phone_home (the appliance powers the VM off at once, often before the unit's own
    // console lines reach the UART, so the timeline is the witness).
    const events = lab.store().events.forMachine(machine.id);
    const lastPhoneHome = events.filter((e) => e.type === 'cloud-init' && e.detail.startsWith('finished')).at(-1)!;
    const toReady = events.find((e) => e.type === 'state' && e.detail.startsWith('Testing -> Ready'))!;
    expect(toReady, events.map((e) => `${e.type} ${e.detail}`).join('\n')).toBeDefined();
    expect(events.indexOf(toReady)).toBeGreaterThan(events.indexOf(lastPhoneHome));
  }, 2 * phaseMs + 300_000);
});
