// End to end, issue 17's other case: a real IPv6 router already advertises on the boot network (Debian's
// radvd with a prefix, in a namespace of this test's own, joined to the lab's bridge by a veth pair).
// The appliance logs that router and stops advertising, and a VM (SeaBIOS + iPXE) still enlists
// without iPXE's ~14 s wait: the other router's RA ends it.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildImage, defaultImagesDir } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import { Lab } from '../../src/lab/lab.js';
import { bridgeName, ip, listNamespaces } from '../../src/lab/netns.js';
import { Launched } from '../../src/lab/launcher.js';
import { ackToScriptMs, maxAckToScriptMs } from './boot-gap.js';

const vmSpec = { mac: '52:54:00:6e:74:31', uuid: '6e657462-6f6f-4c61-8062-0000000000f1', memoryMiB: 512, cpus: 2 };
const enlistTimeoutMs = 240_000;
const routerNs = `nb-test-rtr-${process.pid}`;

let lab: Lab | undefined;
let radvd: Launched | undefined;
let vm: Launched | undefined;

beforeAll(async () => {
  const imagesDir = defaultImagesDir(process.env, homedir());
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  lab = await Lab.start({ prefix: 'nb-test', imagesDir });
  // The router: its own namespace, one veth end on the lab's bridge.
  ip('netns', 'add', routerNs);
  ip('-n', lab.network.name, 'link', 'add', 'rtr0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', routerNs);
  ip('-n', lab.network.name, 'link', 'set', 'rtr0', 'master', bridgeName, 'up');
  ip('-n', routerNs, 'link', 'set', 'lo', 'up');
  ip('-n', routerNs, 'link', 'set', 'eth0', 'up');
  execFileSync('ip', ['netns', 'exec', routerNs, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  const conf = join(lab.dir, 'radvd.conf');
  writeFileSync(conf, 'interface eth0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 1800;\n  prefix 2001:db8:97::/64 { };\n};\n');
  // `ip netns exec` execs radvd, so the PID Launched stops is radvd's own.
  radvd = await Launched.start({
    name: 'radvd', command: 'ip', logFile: join(lab.dir, 'radvd.log'),
    args: ['netns', 'exec', routerNs, '/usr/sbin/radvd', '-n', '-m', 'stderr', '-C', conf, '-p', join(lab.dir, 'radvd.pid')],
  });
}, 900_000);

afterAll(async () => {
  await vm?.stop(2000);
  await radvd?.stop(2000);
  const namespace = lab?.network.name;
  await lab?.close();
  if (listNamespaces().includes(routerNs)) ip('netns', 'del', routerNs);
  expect(listNamespaces()).not.toContain(routerNs);
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
}, 60_000);

test('beside a router that advertises a prefix: the appliance logs it and goes quiet; a VM still enlists without the wait', async () => {
  await lab!.appliance.waitFor(/another IPv6 router advertises on the boot network/, 30_000, 'the appliance to hear radvd');
  vm = await lab!.bootVm({ ...vmSpec, accel: 'tcg' });
  const machine = await lab!.waitForMachine(vmSpec.mac, vm, enlistTimeoutMs);
  expect(machine.state).toBe('New');
  const gap = ackToScriptMs(lab!.store().events.forMachine(machine.id));
  console.log(`beside radvd: DHCP ACK -> iPXE script ${(gap / 1000).toFixed(1)} s`);
  expect(gap).toBeLessThan(maxAckToScriptMs);
  // Heard once, and quiet since: one line about the other router in the whole log.
  const log = readFileSync(join(lab!.dir, 'appliance.log'), 'utf8');
  expect(log.match(/another IPv6 router advertises/g)).toHaveLength(1);
}, enlistTimeoutMs + 90_000);
