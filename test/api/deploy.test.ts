// Deploy, release --erase and their callbacks through the appliance as `serve` builds it (issue 13),
// from the machine's leased address as a real one calls: the options stored and refused as the API
// promises (409 naming the state, 404 listing the images, 400 with the reason, nothing changed), the
// installer's bundle parameters, the deployed system's seed, the installer's run -> booting the disk ->
// the disk's cloud-init -> Deployed, the erase run's mode, and a stale deploy token refused.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import type { Store } from '../../src/store/index.js';
import type { RunnableScript } from '../../src/machines/scripts.js';
import { sampleInventory } from '../support/fixtures.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';
import { writeDiskImage, writeImage, writeManifest } from '../images/fixtures.js';

const headers = { authorization: `Bearer ${operatorToken}` };
const mac = '52:54:00:de:00:01';
const ip = '10.213.0.150';
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e@test';

/** Stand-ins for deploy/builtin: the bundle's shape is what is under test, not the scripts. */
const builtinScripts: RunnableScript[] = [
  { name: '10-install', kind: 'deployment', description: 'installer', timeoutSeconds: 60, parameters: {}, tags: [], content: Buffer.from('#!/bin/sh\n'), builtin: true },
  { name: '10-erase', kind: 'erasing', description: 'eraser', timeoutSeconds: 60, parameters: {}, tags: [], content: Buffer.from('#!/bin/sh\n'), builtin: true },
];

let appliance: TestAppliance;
let store: Store;
let api: FastifyInstance;
let boot: FastifyInstance;

beforeEach(async () => {
  appliance = await testAppliance({
    leases: { macOf: (address) => appliance.store.leases.byIp(address)?.mac }, builtinScripts,
    config: { 'images.ephemeral': 'micro' },
  });
  writeDiskImage(appliance.images.dir, 'debian-disk');
  ({ store } = appliance);
  api = appliance.apiApp!;
  boot = appliance.bootApp!;
  store.leases.upsertMany([{ mac, ip, state: 'bound', expiresAt: Date.now() + 3_600_000 }]);
});

afterEach(async () => {
  await appliance.dispose();
});

function machineIn(state: 'Ready' | 'New'): string {
  const nic = { name: 'eth0', mac, driver: 'e1000', link: true, speedMbps: 1000 };
  const { machine } = store.machines.enlist(sampleInventory({ bootMac: mac, nics: [nic], dmi: { ...sampleInventory().dmi, uuid: '' } }), () => undefined);
  if (state === 'Ready') store.machines.update(machine.id, { state: 'Ready', commissioned: true });
  return machine.id;
}
const deploy = (id: string, payload: object = {}) => api.inject({ method: 'POST', url: `/api/v1/machines/${id}/deploy`, headers, payload });
const fromMachine = (token: string) => ({ authorization: `Bearer ${token}` });

async function bundleEnv(token: string, phase: string): Promise<Record<string, string>> {
  const res = await boot.inject({ url: `/api/v1/machine/scripts?phase=${phase}`, headers: fromMachine(token), remoteAddress: ip });
  expect(res.statusCode, res.body).toBe(200);
  const env: Record<string, string> = {};
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.name.endsWith('.env')) {
        for (const line of Buffer.concat(chunks).toString().split('\n').filter(Boolean)) {
          const [name, ...rest] = line.split('=');
          env[name!] = rest.join('=').replace(/^'|'$/g, '');
        }
      }
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    tar.on('finish', () => resolve()).on('error', reject);
    Readable.from(res.rawPayload).pipe(tar);
  });
  return env;
}

async function finishRun(token: string, phase: string, name: string): Promise<void> {
  const result = { phase, name, exitCode: 0, timedOut: false, durationMs: 5, stdout: '', stderr: '', files: {} };
  expect((await boot.inject({ method: 'POST', url: '/api/v1/machine/results', headers: fromMachine(token), payload: result, remoteAddress: ip })).statusCode).toBe(204);
  const finished = await boot.inject({ method: 'POST', url: '/api/v1/machine/finished', headers: fromMachine(token), payload: { phase }, remoteAddress: ip });
  expect(finished.statusCode, finished.body).toBe(200);
}

describe('deploy to disk through its callbacks', () => {
  test('installer run -> the disk boots -> its cloud-init reports -> Deployed; release --erase -> Ready', async () => {
    const id = machineIn('Ready');
    const userData = '#cloud-config\nwrite_files:\n  - path: /etc/hello\n    content: hi\n';
    const res = await deploy(id, { userData, sshKeys: [key], hostname: 'web1', kernelArgs: 'quiet', disk: 'vda' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      state: 'Deploying', hostname: 'web1', bootPurpose: 'deploy-disk',
      deployment: { target: 'disk', image: 'debian-disk', disk: 'vda', kernelArgs: 'quiet', sshKeys: [key], installed: false },
    });
    const { token } = store.machines.get(id)!;

    // The installer environment: the ephemeral image with the deployment phase on its command line.
    const script = await boot.inject({ url: `/boot/${mac}.ipxe`, remoteAddress: ip });
    expect(script.body).toContain('netboot.phase=deployment');
    const image = appliance.images.diskImage('debian-disk');
    expect(await bundleEnv(token!, 'deployment')).toEqual({
      DEPLOY_DISK: 'vda', DEPLOY_IMAGE_URL: `http://10.213.0.1/files/${image.files.root.id}?mac=${mac}`,
      DEPLOY_IMAGE_SHA256: image.files.root.sha256, DEPLOY_IMAGE_BYTES: String(image.files.root.size),
      DEPLOY_ROOT_BYTES: String(image.rootBytes), DEPLOY_SEED_URL: `http://10.213.0.1/cloud-init/${token}/target/`, DEPLOY_KERNEL_ARGS: 'quiet',
    });
    // The root tarball streams by content id with Range (the installer resumes a cut download).
    const part = await boot.inject({ url: `/files/${image.files.root.id}?mac=${mac}`, headers: { range: 'bytes=2-5' }, remoteAddress: ip });
    expect(part.statusCode).toBe(206);
    expect(part.rawPayload).toHaveLength(4);

    // The deployed system's seed, which the installer writes onto the disk.
    const target = async (doc: string) => (await boot.inject({ url: `/cloud-init/${token}/target/${doc}`, remoteAddress: ip })).body;
    expect(await target('meta-data')).toMatch(/^instance-id: \w+-deploy-\d+\nlocal-hostname: web1\n$/);
    const seedUserData = await target('user-data');
    expect(seedUserData).toContain('path: /etc/hello');
    expect(seedUserData).toContain(key);
    expect(seedUserData).toContain(`url: http://10.213.0.1/cloud-init/${token}/phone-home`);
    expect(await target('cloud-config')).toContain('manual_cache_clean: true');

    await finishRun(token!, 'deployment', '10-install');
    const installed = store.machines.get(id)!;
    expect(installed).toMatchObject({ state: 'Deploying', bootPurpose: 'local', token, deployment: { installed: true } });
    // The disk boots: iPXE exits to it (BIOS) or chains localboot.efi (UEFI).
    const local = (await boot.inject({ url: `/boot/${mac}.ipxe`, remoteAddress: ip })).body;
    expect(local).toContain(`iseq \${platform} efi && chain --autofree http://10.213.0.1/files/${image.files.localboot!.id}?mac=${mac} || exit`);
    // A late finished from the installer changes nothing now.
    expect((await boot.inject({ method: 'POST', url: '/api/v1/machine/finished', headers: fromMachine(token!), payload: { phase: 'deployment' }, remoteAddress: ip })).statusCode).toBe(409);

    const phoneHome = await boot.inject({ method: 'POST', url: `/cloud-init/${token}/phone-home`, payload: 'instance_id=x&hostname=web1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, remoteAddress: ip });
    expect(phoneHome.statusCode).toBe(204);
    expect(store.machines.get(id)).toMatchObject({ state: 'Deployed', bootPurpose: 'local' });

    const release = await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/release`, headers, payload: { erase: true, eraseMode: 'full' } });
    expect(release.json()).toMatchObject({ state: 'Disk erasing', eraseMode: 'full' });
    const eraseToken = store.machines.get(id)!.token!;
    expect(await bundleEnv(eraseToken, 'erasing')).toEqual({ ERASE_MODE: 'full' });
    // The deploy token is stale now: 401, whatever it asks for.
    expect((await boot.inject({ url: `/cloud-init/${token}/target/meta-data`, remoteAddress: ip })).statusCode).toBe(401);
    await finishRun(eraseToken, 'erasing', '10-erase');
    await appliance.service.powerSettled(id);
    expect(store.machines.get(id)).toMatchObject({ state: 'Ready', deployment: null, eraseMode: null });
  });

  test('in memory needs a cloud-init image: the test image (an agent image) is refused with the list', async () => {
    const id = machineIn('Ready');
    const refused = await deploy(id, { inMemory: true });
    expect(refused.statusCode).toBe(404);
    expect(refused.json().message).toMatch(/^no cloud-init boot image 'micro': the cloud-init boot images are none \(an --in-memory deployment/);
    expect(store.machines.get(id)!.state).toBe('Ready');
  });
});

describe('deploy in memory', () => {
  test('the cloud-init image with the operator\'s seed and kernel arguments; cloud-init\'s last stage -> Deployed; it netboots again', async () => {
    const debian = writeImage(appliance.images.dir, 'debian');
    writeManifest(debian.dir, { ...debian.manifest, environment: 'cloud-init' });
    appliance.images.reload();
    const id = machineIn('Ready');
    const res = await deploy(id, { inMemory: true, image: 'debian', kernelArgs: 'mitigations=off', userData: '#cloud-config\nruncmd: [[touch, /run/ok]]\n' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ state: 'Deploying', bootPurpose: 'deploy-memory', deployment: { target: 'memory', image: 'debian' } });
    const { token } = store.machines.get(id)!;
    const script = (await boot.inject({ url: `/boot/${mac}.ipxe`, remoteAddress: ip })).body;
    expect(script).toContain(`ds=nocloud-net;s=http://10.213.0.1/cloud-init/${token}/`);
    expect(script).toContain('mitigations=off');
    expect(script).not.toContain('netboot.phase'); // no runner: nothing powers it off
    const userData = (await boot.inject({ url: `/cloud-init/${token}/user-data`, remoteAddress: ip })).body;
    expect(userData).toContain('runcmd: [[touch, /run/ok]]');
    expect(userData).toContain('phone_home');
    expect(userData).not.toContain('netboot/runner');
    // cloud-init's modules-final finish (failed with errors): Deployed, with a note.
    const event = { name: 'modules-final', event_type: 'finish', result: 'FAIL', description: 'running modules for final' };
    expect((await boot.inject({ method: 'POST', url: `/cloud-init/${token}/events`, payload: event, remoteAddress: ip })).statusCode).toBe(204);
    expect(store.machines.get(id)).toMatchObject({ state: 'Deployed', bootPurpose: 'deploy-memory' });
    expect(store.events.forMachine(id).map((e) => e.detail)).toContain('cloud-init of the deployed system finished with FAIL: see cloud-init events above');
    expect((await boot.inject({ url: `/boot/${mac}.ipxe`, remoteAddress: ip })).body).toContain('mitigations=off');
  });
});

describe('rescue mode', () => {
  test('a deployed machine: the ephemeral image with root keys, phone_home -> Rescue; exit-rescue -> Deployed, its disk again', async () => {
    const id = machineIn('Ready');
    await deploy(id, { sshKeys: [key] });
    store.machines.update(id, { state: 'Deployed', bootPurpose: 'local', deployment: { ...store.machines.get(id)!.deployment!, installed: true } });
    const deployedToken = store.machines.get(id)!.token;
    const entering = await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/actions/rescue`, headers });
    expect(entering.json()).toMatchObject({ state: 'Entering rescue', bootPurpose: 'rescue' });
    const { token } = store.machines.get(id)!;
    // The deployed system's token stays (its cloud-init posts with it after the rescue)...
    expect(token).toBe(deployedToken);
    const instanceId = /instance-id: (\S+)/.exec((await boot.inject({ url: `/cloud-init/${token}/meta-data`, remoteAddress: ip })).body)![1]!;
    expect(instanceId).toMatch(new RegExp(`^${id}-rescue-`));
    // ...so a late phone-home of the deployed system itself (another instance) does not pass Entering rescue.
    const late = { method: 'POST' as const, url: `/cloud-init/${token}/phone-home`, payload: `instance_id=${id}-deploy-1`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, remoteAddress: ip };
    expect((await boot.inject(late)).statusCode).toBe(204);
    expect(store.machines.get(id)!.state).toBe('Entering rescue');
    expect(store.events.forMachine(id).at(-1)?.detail).toMatch(/^phone-home from instance \S+-deploy-1, not this rescue session's \S+: ignored$/);
    const script = (await boot.inject({ url: `/boot/${mac}.ipxe`, remoteAddress: ip })).body;
    expect(script).toContain(`ds=nocloud-net;s=http://10.213.0.1/cloud-init/${token}/`);
    expect(script).not.toContain('netboot.phase');
    const userData = (await boot.inject({ url: `/cloud-init/${token}/user-data`, remoteAddress: ip })).body;
    expect(userData).toContain('disable_root: false');
    expect(userData).toContain(key);
    const phoneHome = { method: 'POST' as const, url: `/cloud-init/${token}/phone-home`, payload: `instance_id=${instanceId}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, remoteAddress: ip };
    expect((await boot.inject(phoneHome)).statusCode).toBe(204);
    expect(store.machines.get(id)!.state).toBe('Rescue');
    // A second report (a reboot in rescue mode) changes nothing.
    expect((await boot.inject(phoneHome)).statusCode).toBe(204);
    expect(store.machines.get(id)!.state).toBe('Rescue');
    await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/actions/exit-rescue`, headers });
    await appliance.service.powerSettled(id);
    expect(store.machines.get(id)).toMatchObject({ state: 'Deployed', bootPurpose: 'local', deployment: { target: 'disk', sshKeys: [key] }, token: deployedToken });
    // The deployed system reports again, with the token its disk carries: accepted, not refused.
    const report = { name: 'init-local', event_type: 'start', origin: 'cloudinit', description: 'boot', timestamp: 1 };
    expect((await boot.inject({ method: 'POST', url: `/cloud-init/${deployedToken}/events`, payload: report, remoteAddress: ip })).statusCode).toBe(204);
    expect(store.events.forMachine(id).map((e) => e.type)).not.toContain('token-refused');
  });
});

describe('refusals change nothing', () => {
  test('deploy from a state that does not allow it: 409 naming the state', async () => {
    const id = machineIn('New');
    const res = await deploy(id);
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toBe('cannot deploy a machine in state New: commission it first');
  });

  test('unknown image: 404 listing the images', async () => {
    const id = machineIn('Ready');
    const res = await deploy(id, { image: 'nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toBe("no disk image 'nope': the disk images are debian-disk (build one: netboot images build debian-disk)");
    expect(store.machines.get(id)).toMatchObject({ state: 'Ready', deployment: null });
  });

  test('invalid user-data, a bad key, a bad disk name: 400 with the reason, the machine untouched', async () => {
    const id = machineIn('Ready');
    for (const [payload, reason] of [
      [{ userData: '#cloud-config\nruncmd: [\n' }, /user-data is not valid YAML/],
      [{ userData: 'hello' }, /must start with "#cloud-config"/],
      [{ sshKeys: ['not a key'] }, /not an OpenSSH public key/],
      [{ disk: '../sda' }, /not a kernel disk name/],
      [{ disk: 'vda', inMemory: true }, /no cloud-init boot image|does not go with --in-memory/],
      [{ kernelArgs: 'a\nb' }, /one line of printable ASCII/],
      [{ colour: 'red' }, /must NOT have additional properties/],
    ] as const) {
      const res = await deploy(id, payload);
      expect([400, 404], JSON.stringify(payload)).toContain(res.statusCode);
      expect(res.json().message, JSON.stringify(payload)).toMatch(reason);
    }
    expect(store.machines.get(id)).toMatchObject({ state: 'Ready', deployment: null, userData: '', hostname: store.machines.get(id)!.hostname });
  });

  test('an erase mode without --erase is a 400', async () => {
    const id = machineIn('Ready');
    await deploy(id);
    const res = await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/release`, headers, payload: { eraseMode: 'secure' } });
    expect(res.statusCode).toBe(400);
    expect(store.machines.get(id)!.state).toBe('Deploying');
  });
});
