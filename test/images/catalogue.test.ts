// ImageCatalogue: images built after the appliance started are served after a reload (explicit, or
// one a missing image causes at most once a minute); a broken folder keeps the old images; files by
// content id stay valid across a swap.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { imageRoutes } from '../../src/api/image-routes.js';
import { ImageError, ImageMissingError } from '../../src/errors.js';
import { ImageCatalogue } from '../../src/images/index.js';
import { sha256, tempDir, writeImage, writeManifest } from './fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let clock: number;
beforeEach(() => {
  tmp = tempDir('catalogue');
  clock = 1_000_000;
});
afterEach(() => tmp.remove());

const open = () => ImageCatalogue.open(tmp.path, { now: () => clock, missReloadMs: 60_000 });

describe('ImageCatalogue', () => {
  test('reload() serves an image built after start and reports what changed', () => {
    writeImage(tmp.path, 'micro');
    const catalogue = open();
    expect(catalogue.find('debian')).toBeUndefined();
    writeImage(tmp.path, 'debian');
    const result = catalogue.reload();
    expect(result).toEqual({ images: ['debian', 'micro'], added: ['debian'], removed: [], changed: [] });
    expect(catalogue.get('debian').name).toBe('debian');
    expect(catalogue.current().list().map((i) => i.name)).toEqual(['debian', 'micro']);
  });

  test('a missing image reloads at most once a minute, then is served', () => {
    const catalogue = open();
    expect(() => catalogue.get('micro')).toThrow(ImageMissingError); // reloads (nothing there yet)
    writeImage(tmp.path, 'micro');
    clock += 30_000;
    expect(() => catalogue.get('micro')).toThrow(/netboot images build micro/); // too soon: no reload
    clock += 30_000;
    expect(catalogue.get('micro').name).toBe('micro');
  });

  test('files by content id stay valid across a reload; a rebuilt image is reported as changed', () => {
    const micro = writeImage(tmp.path, 'micro');
    const catalogue = open();
    const kernel = sha256(micro.contents.kernel);
    const before = catalogue.fileById(kernel);
    writeManifest(micro.dir, { ...micro.manifest, builtAt: '2026-12-06T03:00:00Z' });
    expect(catalogue.reload().changed).toEqual(['micro']);
    expect(catalogue.fileById(kernel)).toEqual(before);
    expect(catalogue.fileById('0'.repeat(64))).toBeUndefined();
  });

  test('a broken manifest throws and the images already served stay', () => {
    writeImage(tmp.path, 'micro');
    const catalogue = open();
    const broken = writeImage(tmp.path, 'debian');
    writeManifest(broken.dir, '{ not json');
    expect(() => catalogue.reload()).toThrow(ImageError);
    expect(catalogue.get('micro').name).toBe('micro');
    rmSync(join(broken.dir, 'manifest.json'));
    expect(catalogue.reload().images).toEqual(['micro']);
  });

  test('a removed image is reported and no longer served', () => {
    const gone = writeImage(tmp.path, 'micro');
    const catalogue = open();
    rmSync(gone.dir, { recursive: true });
    expect(catalogue.reload()).toMatchObject({ images: [], removed: ['micro'] });
    clock += 60_000;
    expect(() => catalogue.get('micro')).toThrow(ImageMissingError);
  });
});

describe('POST /api/v1/images/reload', () => {
  test('reloads and answers what is served; a broken manifest is a 409 and the old images stay', async () => {
    writeImage(tmp.path, 'micro');
    const catalogue = open();
    const app = Fastify();
    await app.register(imageRoutes, { prefix: '/api/v1', images: catalogue });
    writeImage(tmp.path, 'debian');
    const ok = await app.inject({ method: 'POST', url: '/api/v1/images/reload' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ images: ['debian', 'micro'], added: ['debian'] });
    writeManifest(join(tmp.path, 'debian'), '{ not json');
    const refused = await app.inject({ method: 'POST', url: '/api/v1/images/reload' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/previous ones stay served/);
    expect(catalogue.get('debian').name).toBe('debian');
    await app.close();
  });
});
