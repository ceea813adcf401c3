import type { Machine } from '../../src/machines/model.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Inventory } from '../../src/machines/inventory.js';

export const silentLog = pino({ level: 'silent' });

/** A temp folder removed by the returned cleanup (call it in afterEach/finally). */
export function tempDir(prefix = 'nb-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** What images/micro's enlist agent posts for a QEMU VM (shape and values as measured there). */
export function sampleInventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    bootMac: '52:54:00:12:34:56',
    arch: 'x86_64',
    kernel: '6.1.0-28-amd64',
    cpu: { count: 2, model: 'QEMU Virtual CPU version 2.5+' },
    memoryBytes: 536_346_624,
    nics: [{ name: 'eth0', mac: '52:54:00:12:34:56', driver: 'e1000', link: true, speedMbps: 1000 }],
    disks: [{ name: 'vda', sizeBytes: 2 * 2 ** 30, model: '', serial: 'nb-disk-0', rotational: true }],
    dmi: { vendor: 'QEMU', product: 'Standard PC (i440FX + PIIX, 1996)', serial: '', uuid: '6e657462-6f6f-4c61-8062-000000000001' },
    ...overrides,
  };
}

/** A machine as the store returns it, in state New with sampleInventory(). */
export function sampleMachine(overrides: Partial<Machine> = {}): Machine {
  return {
    id: 'abc234', hostname: 'nb-abc234', state: 'New', bootMac: '52:54:00:12:34:56', arch: 'x86_64',
    uuid: '6e657462-6f6f-4c61-8062-000000000001', inventory: sampleInventory(), createdAt: Date.UTC(2026, 10, 22, 5, 0, 0), updatedAt: 0,
    locked: false, notes: '', zone: 'default', pool: 'default', power: { type: 'manual' }, powerState: 'unknown', powerError: '', powerCheckedAt: null, bootPurpose: null, token: null,
    runId: null, skipTests: false, commissioned: false, beforeRescue: null, statusMessage: '', timer: null, tags: [], userData: '',
    deployment: null, eraseMode: null,
    ...overrides,
  };
}
