import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildBootApp, type ServedFile } from '../../src/http-boot/index.js';
import { enlistRoutes } from '../../src/enlist/index.js';
import { LifecycleBooter } from '../../src/machines/booter.js';
import { BootAuth } from '../../src/machines/boot-auth.js';
import { openStore, type Store } from '../../src/store/index.js';
import { ImageMissingError } from '../../src/errors.js';
import { sampleInventory, silentLog, tempDir } from '../support/fixtures.js';
import { expectGolden } from '../support/golden.js';

const publicUrl = 'http://10.213.0.1';
const mac = '52:54:00:12:34:56';

describe('boot-side HTTP app', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  let app: FastifyInstance;
  let files: Map<string, ServedFile>;
  let imageBuilt: boolean;
  /** Address -> MAC, as the DHCP leases would say: inject() comes from 127.0.0.1. */
  let leases: Map<string, string>;
  const content = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
  const ids = { kernel: '', initrd: '', rootfs: '' };

  beforeEach(async () => {
    dir = tempDir();
    store = openStore(join(dir.path, 'data'));
    files = new Map();
    for (const role of ['kernel', 'initrd', 'rootfs'] as const) {
      const bytes = Buffer.concat([Buffer.from(role), content]);
      const id = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(dir.path, role), bytes);
      files.set(id, { id, role, path: join(dir.path, role) });
      ids[role] = id;
    }
    imageBuilt = true;
    leases = new Map([['127.0.0.1', '52:54:00:00:00:99']]);
    const images = {
      get: (name: string) => {
        if (!imageBuilt) throw new ImageMissingError(`image '${name}' is not built: run \`netboot images build ${name}\``);
        return { files: { kernel: { id: ids.kernel }, initrd: { id: ids.initrd }, rootfs: { id: ids.rootfs } } };
      },
    };
    const booter = new LifecycleBooter({ publicUrl, enlistImage: 'micro', images, machines: store.machines });
    app = buildBootApp({
      booter, files: { fileById: (id) => files.get(id) }, events: store.events, publicUrl, log: silentLog,
      loaders: { 'ipxe.efi': join(dir.path, 'kernel') },
      auth: new BootAuth({ machines: store.machines, events: store.events, leases: { macOf: (ip) => leases.get(ip) } }),
    });
    app.register(enlistRoutes, { store });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
    dir.cleanup();
  });

  test('an unknown machine gets the enlistment script (golden)', async () => {
    const res = await app.inject({ url: `/boot/${mac}.ipxe` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const golden = res.body.replaceAll(ids.kernel, '<kernel-id>').replaceAll(ids.initrd, '<initrd-id>').replaceAll(ids.rootfs, '<rootfs-id>');
    expectGolden('testdata/http-boot/enlist.ipxe', golden);
    expect(store.events.since(0).map((e) => [e.mac, e.type, e.detail])).toEqual([[mac, 'ipxe-script', 'enlist']]);
  });

  test('MACs in any notation are accepted; anything else is a 400 that records nothing', async () => {
    const dashed = await app.inject({ url: '/boot/52-54-00-12-34-56.ipxe' });
    expect(dashed.body).toContain(`BOOTIF=01-52-54-00-12-34-56`);
    for (const bad of ['/boot/52:54:00:12:34.ipxe', '/boot/52:54:00:12:34:56.cfg', '/boot/..%2f..%2fetc%2fpasswd']) {
      const res = await app.inject({ url: bad });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error).toBe('NB_ERR_REQUEST_INVALID');
    }
    expect(store.events.since(0)).toHaveLength(1);
  });

  test('while the image is missing, iPXE is told why and asks again', async () => {
    imageBuilt = false;
    const res = await app.inject({ url: `/boot/${mac}.ipxe` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('netboot images build micro');
    expect(res.body).toContain(`chain --replace --autofree ${publicUrl}/boot/${mac}.ipxe`);
  });

  test('a Ready machine powers off; a Deployed one boots from its disk (MAAS)', async () => {
    const { machine } = store.machines.enlist(sampleInventory(), () => undefined);
    store.machines.update(machine.id, { state: 'Ready' });
    expect((await app.inject({ url: `/boot/${mac}.ipxe` })).body).toMatch(/^#!ipxe\n# netboot: off for /);
    store.machines.update(machine.id, { state: 'Deployed' });
    expect((await app.inject({ url: `/boot/${mac}.ipxe` })).body).toBe(`#!ipxe\n# netboot: local for ${mac}\nexit\n`);
  });

  test('a commissioning machine boots the micro image with its run token and phase', async () => {
    const { machine } = store.machines.enlist(sampleInventory(), () => undefined);
    store.machines.update(machine.id, { state: 'Commissioning', bootPurpose: 'commission', token: 'tok-123' });
    leases.set('127.0.0.1', mac);
    const script = (await app.inject({ url: `/boot/${mac}.ipxe` })).body;
    expect(script).toContain('netboot.url=http://10.213.0.1 netboot.token=tok-123 netboot.phase=commissioning');
    expect(script).not.toContain('netboot.enlist=');
  });

  test('files by id: GET, HEAD, Range, duplicate slashes; events name the role and the MAC', async () => {
    const full = await app.inject({ url: `/files/${ids.kernel}?mac=${mac}` });
    expect(full.statusCode).toBe(200);
    expect(full.rawPayload.equals(readFileSync(files.get(ids.kernel)!.path))).toBe(true);
    const head = await app.inject({ method: 'HEAD', url: `//files/${ids.initrd}` });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(content.length + 'initrd'.length));
    expect(head.body).toBe('');
    const range = await app.inject({ url: `/files/${ids.rootfs}`, headers: { range: 'bytes=6-15' } });
    expect(range.statusCode).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 6-15/${content.length + 6}`);
    expect([...range.rawPayload]).toEqual([...content.subarray(0, 10)]);
    const events = store.events.since(0).map((e) => [e.mac, e.type]);
    // HEAD records nothing; both GETs are attributed through the lease of 127.0.0.1: a ?mac= naming
    // another machine is not believed (probe F4).
    expect(events).toEqual([['52:54:00:00:00:99', 'kernel'], ['52:54:00:00:00:99', 'rootfs']]);
  });

  test("a disk image's root tarball by id: Range resumes it; the event is a file naming the role", async () => {
    const bytes = Buffer.concat([Buffer.from('root'), content]);
    const id = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir.path, 'root.tar.zst'), bytes);
    files.set(id, { id, role: 'root', path: join(dir.path, 'root.tar.zst') });
    const range = await app.inject({ url: `/files/${id}`, headers: { range: 'bytes=4-' } });
    expect(range.statusCode).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 4-${bytes.length - 1}/${bytes.length}`);
    expect(range.rawPayload.equals(content)).toBe(true);
    expect(store.events.since(0).map((e) => [e.type, e.detail])).toEqual([['file', 'root range 4-']]);
  });

  test('unknown and malformed file ids are refused', async () => {
    expect((await app.inject({ url: `/files/${'0'.repeat(64)}` })).statusCode).toBe(404);
    expect((await app.inject({ url: '/files/../../etc/passwd' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/files/abc' })).statusCode).toBe(400);
  });

  test('loaders by name for UEFI HTTP Boot: HEAD then GET; nothing else', async () => {
    const head = await app.inject({ method: 'HEAD', url: '/loaders/ipxe.efi' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(content.length + 'kernel'.length));
    const get = await app.inject({ url: '/loaders/ipxe.efi' });
    expect(get.rawPayload.equals(readFileSync(join(dir.path, 'kernel')))).toBe(true);
    expect(store.events.since(0).map((e) => [e.type, e.detail])).toEqual([['file', 'loader ipxe.efi']]);
    for (const bad of ['/loaders/undionly.kpxe', '/loaders/..%2fkernel', '/loaders/constructor', '/loaders/__proto__']) {
      expect((await app.inject({ url: bad })).statusCode, bad).toBe(404);
    }
  });

  describe('POST /enlist/v1/machines', () => {
    const post = (payload: unknown) => app.inject({ method: 'POST', url: '/enlist/v1/machines', payload: payload as object });

    test('creates a New machine, then updates it on re-enlistment', async () => {
      const first = await post(sampleInventory());
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ state: 'New', created: true });
      const again = await post(sampleInventory({ memoryBytes: 2 ** 30 }));
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ id: first.json().id, created: false });
      expect(store.machines.list()).toHaveLength(1);
      expect(store.machines.list()[0]!.inventory?.memoryBytes).toBe(2 ** 30);
      expect(store.events.forMachine(first.json().id).map((e) => e.type)).toEqual(['enlisted', 're-enlisted']);
    });

    test.each([
      ['not JSON', '{"bootMac":', /JSON|Unexpected|Body/i],
      ['a missing field', (({ cpu: _cpu, ...rest }) => rest)(sampleInventory()), /cpu/],
      ['a bad MAC', sampleInventory({ bootMac: 'zz:54:00:12:34:56' }), /bootMac/],
      ['an extra field', { ...sampleInventory(), extra: 1 }, /additional/],
      ['a negative size', sampleInventory({ disks: [{ name: 'vda', sizeBytes: -1, model: '', serial: '', rotational: false }] }), /sizeBytes/],
    ])('refuses %s with a 400 and a reason, changing nothing', async (_name, payload, reason) => {
      const res = typeof payload === 'string'
        ? await app.inject({ method: 'POST', url: '/enlist/v1/machines', payload, headers: { 'content-type': 'application/json' } })
        : await post(payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(reason);
      expect(store.machines.list()).toHaveLength(0);
      expect(store.events.since(0)).toHaveLength(0);
    });
  });
});
