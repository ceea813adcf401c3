import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { classifyClient } from '../../src/dhcp/classify.js';
import { decodeDhcp, MessageType, type DhcpOptions } from '../../src/dhcp/codec/index.js';
import type { BootClient } from '../../src/machines/boot.js';
import { clientPacket, firmwareOptions } from './fakes.js';

const mac = '52:54:00:aa:bb:cc';
const discover = (options: DhcpOptions) => clientPacket(mac, { messageType: MessageType.discover, ...options });

describe('classifyClient, one case per client from FACTS.md', () => {
  const cases: { name: string; options: DhcpOptions; want: Omit<BootClient, 'mac'> }[] = [
    { name: 'iPXE BIOS (QEMU ROM, undionly.kpxe)', options: firmwareOptions.ipxeBios, want: { arch: 'x86', firmware: 'ipxe' } },
    { name: 'iPXE EFI (efi-*.rom, snponly.efi)', options: firmwareOptions.ipxeEfi, want: { arch: 'x86_64-efi', firmware: 'ipxe' } },
    { name: 'OVMF native PXE', options: firmwareOptions.ovmfPxe, want: { arch: 'x86_64-efi', firmware: 'uefi-pxe' } },
    { name: 'OVMF UEFI HTTP Boot', options: firmwareOptions.ovmfHttp, want: { arch: 'x86_64-efi', firmware: 'uefi-http' } },
    { name: 'BIOS PXE ROM without iPXE', options: firmwareOptions.seabiosPxe, want: { arch: 'x86', firmware: 'bios-pxe' } },
    {
      name: 'x64 UEFI that sends arch 9',
      options: { clientArchitectures: [9], vendorClassId: 'PXEClient:Arch:00009:UNDI:003000' },
      want: { arch: 'x86_64-efi', firmware: 'uefi-pxe' },
    },
    {
      name: 'firmware without option 93: arch from option 60',
      options: { vendorClassId: 'PXEClient:Arch:00007:UNDI:003000' },
      want: { arch: 'x86_64-efi', firmware: 'uefi-pxe' },
    },
    {
      name: 'arm64 UEFI PXE',
      options: { clientArchitectures: [11], vendorClassId: 'PXEClient:Arch:00011:UNDI:003000' },
      want: { arch: 'arm64-efi', firmware: 'uefi-pxe' },
    },
    {
      name: 'arm64 UEFI HTTP',
      options: { clientArchitectures: [19], vendorClassId: 'HTTPClient:Arch:00019:UNDI:003000' },
      want: { arch: 'arm64-efi', firmware: 'uefi-http' },
    },
    {
      name: 'iPXE with an RFC 3004 user class list',
      options: { ...firmwareOptions.ipxeBios, userClass: { format: 'rfc3004', classes: ['other', 'iPXE'] } },
      want: { arch: 'x86', firmware: 'ipxe' },
    },
    { name: 'PXEClient without any arch', options: { vendorClassId: 'PXEClient' }, want: { arch: 'unknown', firmware: 'unknown' } },
    {
      name: 'IA32 UEFI: EFI but no loader arch',
      options: { clientArchitectures: [6], vendorClassId: 'PXEClient:Arch:00006:UNDI:003000' },
      want: { arch: 'unknown', firmware: 'uefi-pxe' },
    },
    { name: 'an OS DHCP client (not a boot client)', options: firmwareOptions.linux, want: { arch: 'unknown', firmware: 'unknown' } },
  ];

  test.each(cases)('$name', ({ options, want }) => {
    expect(classifyClient(discover(options))).toEqual({ mac, ...want });
  });
});

describe('option 97 machine UUID', () => {
  test('golden iPXE DISCOVER: SMBIOS byte order gives the UUID QEMU was started with', () => {
    const bytes = readFileSync(join(import.meta.dirname, '../../testdata/dhcp/ipxe-bios-discover.bin'));
    expect(classifyClient(decodeDhcp(bytes))).toEqual({
      mac: '52:54:00:12:34:56', arch: 'x86', firmware: 'ipxe', uuid: '8c3e6a4e-1b2f-4a6d-9c1e-0123456789ab',
    });
  });

  test('all zeros (OVMF without -uuid) means no UUID', () => {
    const client = classifyClient(discover({ ...firmwareOptions.ovmfPxe, clientMachineId: { type: 0, guid: Buffer.alloc(16) } }));
    expect(client).not.toHaveProperty('uuid');
  });
});

test('a chaddr that is not a 6-octet Ethernet address has no BootClient', () => {
  expect(classifyClient(clientPacket(mac, {}, { htype: 6 }))).toBeUndefined();
  expect(classifyClient(clientPacket(mac, {}, { chaddr: Buffer.alloc(8) }))).toBeUndefined();
});
