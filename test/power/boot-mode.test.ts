// The boot mode of "next boot from the network": a UEFI machine gets IPMI's EFI boot flag
// (`chassis bootdev pxe options=efiboot`, IPMI 2.0 §28.13 parameter 5 byte 1 bit 5) and Redfish's
// BootSourceOverrideMode UEFI, a BIOS machine Legacy, an unknown one neither. ipmi_sim keeps only the
// device selector, so the flag is checked here on what ipmitool is given (a stand-in ipmitool that
// records its arguments) and on the PATCH body our-redfish-test-server receives (loopback).
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { firmwareOf } from '../../src/machines/power-control.js';
import { sampleInventory } from '../support/fixtures.js';
import { bootdevPxe, IpmiPowerDriver } from '../../src/power/ipmi.js';
import { bootOverride, RedfishPowerDriver, type ComputerSystem } from '../../src/power/redfish.js';
import type { BootFirmware } from '../../src/power/index.js';
import { tempDir } from '../support/fixtures.js';

const once = { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' };

describe('which firmware a machine arch names', () => {
  test.each([
    { arch: 'x86_64-efi', want: 'uefi' },
    { arch: 'arm64-efi', want: 'uefi' },
    { arch: 'x86', want: 'bios' },
    { arch: 'x86_64', want: undefined }, // uname -m from the inventory: says nothing of the firmware
    { arch: 'unknown', want: undefined },
  ])('$arch: $want', ({ arch, want }) => {
    expect(firmwareOf({ arch, inventory: null })).toBe(want);
  });

  test('the inventory\'s firmware (the agent saw /sys/firmware/efi, or not) wins over the arch', () => {
    expect(firmwareOf({ arch: 'x86_64', inventory: sampleInventory({ firmware: 'uefi' }) })).toBe('uefi');
    expect(firmwareOf({ arch: 'x86_64-efi', inventory: sampleInventory({ firmware: 'bios' }) })).toBe('bios');
    expect(firmwareOf({ arch: 'x86_64', inventory: sampleInventory() })).toBeUndefined();
  });
});

describe('IPMI', () => {
  test.each([
    { firmware: 'uefi', want: ['bootdev', 'pxe', 'options=efiboot'] },
    { firmware: 'bios', want: ['bootdev', 'pxe'] },
    { firmware: undefined, want: ['bootdev', 'pxe'] },
  ] as const)('$firmware: chassis $want', ({ firmware, want }) => {
    expect(bootdevPxe(firmware)).toEqual(want);
  });

  test('the driver runs ipmitool with the EFI flag for a UEFI machine, and without it otherwise', async () => {
    const dir = tempDir('nb-ipmitool-');
    try {
      const log = join(dir.path, 'args');
      const ipmitool = join(dir.path, 'ipmitool');
      writeFileSync(ipmitool, `#!/bin/sh\necho "$*" >> '${log}'\necho 'Set Boot Device to pxe'\n`);
      chmodSync(ipmitool, 0o755);
      const driver = new IpmiPowerDriver({ address: '127.0.0.1', user: 'u', password: 'p' }, { ipmitool });
      await driver.setNextBootNetwork('uefi');
      await driver.setNextBootNetwork();
      const runs = readFileSync(log, 'utf8').trim().split('\n');
      expect(runs[0]).toMatch(/ chassis bootdev pxe options=efiboot$/);
      expect(runs[1]).toMatch(/ chassis bootdev pxe$/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('Redfish', () => {
  const cases: Array<{ name: string; boot: ComputerSystem['Boot']; firmware?: BootFirmware; want: Record<string, string> }> = [
    { name: 'UEFI allowed', boot: { 'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'] }, firmware: 'uefi', want: { ...once, BootSourceOverrideMode: 'UEFI' } },
    { name: 'Legacy allowed', boot: { 'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'] }, firmware: 'bios', want: { ...once, BootSourceOverrideMode: 'Legacy' } },
    { name: 'UEFI only, machine BIOS', boot: { 'BootSourceOverrideMode@Redfish.AllowableValues': ['UEFI'] }, firmware: 'bios', want: once },
    { name: 'property without a list (sushy-tools)', boot: { BootSourceOverrideMode: 'Legacy' }, firmware: 'uefi', want: { ...once, BootSourceOverrideMode: 'UEFI' } },
    { name: 'no such property', boot: {}, firmware: 'uefi', want: once },
    { name: 'no Boot at all', boot: undefined, firmware: 'bios', want: once },
    { name: 'firmware unknown', boot: { 'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'] }, want: once },
  ];
  test.each(cases)('$name', ({ boot, firmware, want }) => {
    expect(bootOverride(boot ? { Boot: boot } : {}, firmware)).toEqual(want);
  });

  describe('the PATCH our-redfish-test-server receives', () => {
    let server: Server;
    let port = 0;
    const patches: unknown[] = [];
    const system = {
      '@odata.id': '/redfish/v1/Systems/1', PowerState: 'Off',
      Boot: { BootSourceOverrideMode: 'Legacy', 'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'] },
    };

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        req.on('end', () => {
          if (req.method === 'GET' && req.url === '/redfish/v1/Systems/1') return void res.writeHead(200).end(JSON.stringify(system));
          if (req.method === 'PATCH' && req.url === '/redfish/v1/Systems/1') {
            patches.push(JSON.parse(body));
            return void res.writeHead(204).end();
          }
          res.writeHead(404).end();
        });
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as { port: number }).port;
    });

    afterAll(async () => {
      await new Promise((done) => server.close(done));
    });

    test('UEFI, then firmware unknown', async () => {
      const driver = new RedfishPowerDriver({ address: `http://127.0.0.1:${port}`, user: 'admin', password: 'pw', systemId: '1' });
      await driver.setNextBootNetwork('uefi');
      await driver.setNextBootNetwork();
      expect(patches).toEqual([{ Boot: { ...once, BootSourceOverrideMode: 'UEFI' } }, { Boot: once }]);
    });
  });
});
