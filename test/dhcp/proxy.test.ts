// The proxyDHCP policy (src/dhcp/proxy.ts), table-driven per firmware (STYLE.md §12): what each
// PXE client gets on port 67 and on port 4011, and everything a proxy must leave to the site server.
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import type { BootDecision, LoaderChoice } from '../../src/dhcp/boot-file.js';
import {
  BROADCAST_FLAG, BootOp, decodeDhcp, encodeDhcp, formatHex, MessageType, messageTypeName, type DhcpOptions, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';
import { heardAddress, osRequestAddress, proxyRespond, type ProxyContext, type ProxyOutcome, type ProxyPort } from '../../src/dhcp/proxy.js';
import { clientPacket, enlistSpec, firmwareOptions, macBytes, scriptUrl } from './fakes.js';

const mac = '52:54:00:12:34:56';
const us = '10.213.7.1';
const site = '10.213.7.2';
const httpLoader = 'http://10.213.7.1/loaders/ipxe.efi';
const boot: BootDecision = { kind: 'boot', spec: enlistSpec };
const ctx: ProxyContext = { serverAddress: us, ports: { server: 67, client: 68 }, bootScriptUrl: scriptUrl };
/** Option 43 as dnsmasq sends it without a boot menu: discovery control 8, menu prompt (0, "PXE"). */
const pxeOptions = '6=08 10=00 50 58 45';

interface Case {
  name: string;
  request: DhcpPacket;
  via?: ProxyPort;
  from?: { address: string; port: number };
  boot?: BootDecision;
  loaders?: LoaderChoice;
  want: Record<string, unknown>;
}

/** A flat view of an outcome, for toMatchObject against a table's `want`; the packet goes over the wire first. */
function summary(outcome: ProxyOutcome): Record<string, unknown> {
  if (outcome.kind === 'ignore') return { kind: 'ignore', code: outcome.code };
  const bytes = encodeDhcp(outcome.packet);
  const packet = decodeDhcp(bytes);
  const o = packet.options;
  const sub = (v: DhcpOptions['vendorSpecific']) =>
    v instanceof Map ? [...v].map(([k, value]) => `${k}=${formatHex(value)}`).join(' ') : v && formatHex(v as Uint8Array);
  return {
    kind: 'reply',
    type: messageTypeName(o.messageType ?? 0),
    yiaddr: packet.yiaddr,
    ciaddr: packet.ciaddr,
    siaddr: packet.siaddr,
    file: packet.file,
    broadcastFlag: (packet.flags & BROADCAST_FLAG) !== 0,
    serverId: o.serverId,
    vendorClassId: o.vendorClassId,
    bootFileName: o.bootFileName,
    pxe: sub(o.vendorSpecific),
    ipxe: sub(o.ipxeEncapsulated),
    // A proxy hands out no address, so none of the lease or network options either.
    addressOptions: [o.leaseTime, o.subnetMask, o.routers, o.dnsServers].some((v) => v !== undefined),
    dest: `${outcome.dest.address}:${outcome.dest.port}${outcome.dest.broadcast ? ' broadcast' : ''}`,
    length: bytes.length,
  };
}

const discover = (options: DhcpOptions, fields: Partial<DhcpPacket> = {}) =>
  clientPacket(mac, { messageType: MessageType.discover, ...options }, fields);
const request = (options: DhcpOptions, fields: Partial<DhcpPacket> = {}) =>
  clientPacket(mac, { messageType: MessageType.request, ...options }, fields);
/** PXE 2.1 §2.2.3 step 7: after the site server's ACK, unicast to us on 4011 with the new address. */
const pxeRequest = (options: DhcpOptions) => ({
  request: request({ serverId: us, ...options }, { ciaddr: '10.213.7.150' }),
  via: 'pxe' as const,
  from: { address: '10.213.7.150', port: 68 },
});

const offerToAll = { type: 'DHCPOFFER', yiaddr: '0.0.0.0', ciaddr: '0.0.0.0', siaddr: us, serverId: us, broadcastFlag: true, addressOptions: false, dest: '255.255.255.255:68 broadcast' };

const cases: Case[] = [
  {
    name: 'BIOS PXE (arch 0) DISCOVER: undionly.kpxe from siaddr, 60 PXEClient, 43 "boot this file"',
    request: discover(firmwareOptions.seabiosPxe),
    want: { ...offerToAll, file: 'undionly.kpxe', bootFileName: undefined, vendorClassId: 'PXEClient', pxe: pxeOptions, ipxe: undefined },
  },
  {
    name: 'UEFI PXE (arch 7) DISCOVER: snponly.efi, no option 43 so that EDK2 asks again on 4011',
    request: discover(firmwareOptions.ovmfPxe, { flags: BROADCAST_FLAG }),
    want: { ...offerToAll, file: 'snponly.efi', vendorClassId: 'PXEClient', pxe: undefined },
  },
  {
    name: 'UEFI PXE (arch 9, "EFI BC" sent by x64 firmware) DISCOVER: snponly.efi',
    request: discover({ clientArchitectures: [9], vendorClassId: 'PXEClient:Arch:00009:UNDI:003016' }),
    want: { ...offerToAll, file: 'snponly.efi', pxe: undefined },
  },
  {
    name: 'UEFI PXE DISCOVER with the Secure Boot chain configured: shim in the file field',
    request: discover(firmwareOptions.ovmfPxe),
    loaders: { uefiPxe: 'efi/bootx64.efi' },
    want: { ...offerToAll, file: 'efi/bootx64.efi', bootFileName: undefined },
  },
  {
    name: 'iPXE BIOS DISCOVER: its script URL in file and 67, PXEClient, no 175.176 (that is for full mode)',
    request: discover(firmwareOptions.ipxeBios),
    want: {
      ...offerToAll, file: scriptUrl(mac), bootFileName: scriptUrl(mac), vendorClassId: 'PXEClient', pxe: pxeOptions, ipxe: undefined,
    },
  },
  {
    name: 'iPXE EFI DISCOVER: the same script',
    request: discover(firmwareOptions.ipxeEfi),
    want: { ...offerToAll, file: scriptUrl(mac), bootFileName: scriptUrl(mac), pxe: pxeOptions },
  },
  {
    name: 'UEFI HTTP Boot DISCOVER: HTTPClient echoed, absolute URL of ipxe.efi, no PXE options',
    request: discover(firmwareOptions.ovmfHttp),
    loaders: { uefiPxe: 'snponly.efi', uefiHttp: httpLoader },
    want: { ...offerToAll, file: httpLoader, bootFileName: httpLoader, vendorClassId: 'HTTPClient', pxe: undefined },
  },
  {
    name: 'UEFI HTTP Boot with boot.httpBoot off: not answered',
    request: discover(firmwareOptions.ovmfHttp),
    want: { kind: 'ignore', code: 'no-boot-file' },
  },
  {
    name: 'a non-PXE client (no option 60) is the site server\'s alone',
    request: discover(firmwareOptions.linux),
    boot: { kind: 'not-a-boot-client' },
    want: { kind: 'ignore', code: 'not-pxe' },
  },
  {
    name: 'user class iPXE without the PXEClient vendor class: not a PXE client',
    request: discover({ userClass: { format: 'raw', data: 'iPXE' } }),
    want: { kind: 'ignore', code: 'not-pxe' },
  },
  {
    name: 'a PXE client\'s REQUEST to the site server (option 54 = its address) on 67: ignored',
    request: request({ ...firmwareOptions.ipxeBios, serverId: site, requestedAddress: '10.213.7.150' }, { flags: BROADCAST_FLAG }),
    want: { kind: 'ignore', code: 'other-server' },
  },
  {
    name: 'INIT-REBOOT / REBINDING REQUEST (no option 54) on 67: the site server\'s',
    request: request({ ...firmwareOptions.ipxeBios, requestedAddress: '10.213.7.150' }),
    want: { kind: 'ignore', code: 'other-server' },
  },
  {
    name: 'a REQUEST on 67 that names us: ACK with the boot file, still no address',
    request: request({ ...firmwareOptions.seabiosPxe, serverId: us }, { flags: BROADCAST_FLAG }),
    want: { type: 'DHCPACK', yiaddr: '0.0.0.0', file: 'undionly.kpxe', pxe: pxeOptions, dest: '255.255.255.255:68 broadcast' },
  },
  {
    name: 'UEFI PXE REQUEST on 4011: ACK to ciaddr at its source port, with 43 this time',
    ...pxeRequest(firmwareOptions.ovmfPxe),
    want: {
      type: 'DHCPACK', yiaddr: '0.0.0.0', ciaddr: '10.213.7.150', siaddr: us, serverId: us, file: 'snponly.efi',
      vendorClassId: 'PXEClient', pxe: pxeOptions, broadcastFlag: false, addressOptions: false, dest: '10.213.7.150:68',
    },
  },
  {
    name: 'iPXE ProxyDHCPREQUEST on 4011 (option 54 = us): ACK with the script URL',
    ...pxeRequest(firmwareOptions.ipxeBios),
    want: { type: 'DHCPACK', file: scriptUrl(mac), bootFileName: scriptUrl(mac), dest: '10.213.7.150:68' },
  },
  {
    name: 'BIOS PXE REQUEST on 4011 from a source port other than 68: answered there',
    ...pxeRequest(firmwareOptions.seabiosPxe),
    from: { address: '10.213.7.150', port: 4011 },
    want: { type: 'DHCPACK', file: 'undionly.kpxe', dest: '10.213.7.150:4011' },
  },
  {
    name: 'a 4011 REQUEST naming another boot server: ignored',
    ...pxeRequest({ ...firmwareOptions.ovmfPxe, serverId: '10.213.7.9' }),
    want: { kind: 'ignore', code: 'other-server' },
  },
  {
    name: 'DISCOVER on 4011: not part of the exchange',
    request: discover(firmwareOptions.ovmfPxe),
    via: 'pxe',
    from: { address: '10.213.7.150', port: 68 },
    want: { kind: 'ignore', code: 'unsupported-message' },
  },
  {
    name: 'a 4011 REQUEST without ciaddr is answered at its source address',
    request: request({ ...firmwareOptions.ovmfPxe, serverId: us }),
    via: 'pxe',
    from: { address: '10.213.7.151', port: 68 },
    want: { type: 'DHCPACK', dest: '10.213.7.151:68' },
  },
  {
    name: 'a 4011 REQUEST with nowhere to answer: ignored',
    request: request({ ...firmwareOptions.ovmfPxe, serverId: us }),
    via: 'pxe',
    from: { address: '0.0.0.0', port: 68 },
    want: { kind: 'ignore', code: 'no-return-address' },
  },
  {
    name: 'relayed DISCOVER: to the relay on 67, broadcast bit set (no yiaddr to unicast to)',
    request: discover(firmwareOptions.seabiosPxe, { giaddr: '10.50.0.1', hops: 1 }),
    want: { type: 'DHCPOFFER', dest: '10.50.0.1:67', broadcastFlag: true },
  },
  {
    name: 'the Booter returns null: no reply',
    request: discover(firmwareOptions.ipxeBios),
    boot: { kind: 'do-not-answer' },
    want: { kind: 'ignore', code: 'booter-declined' },
  },
  {
    name: 'the Booter says purpose none: nothing to boot, no reply',
    request: discover(firmwareOptions.ipxeBios),
    boot: { kind: 'boot', spec: { purpose: 'none' } },
    want: { kind: 'ignore', code: 'no-boot-file' },
  },
  {
    name: 'arm64 UEFI PXE (arch 11): no loader shipped, no reply',
    request: discover({ clientArchitectures: [11], vendorClassId: 'PXEClient:Arch:00011:UNDI:003000' }),
    want: { kind: 'ignore', code: 'no-boot-file' },
  },
  {
    name: 'INFORM on 67: not served by a proxy',
    request: clientPacket(mac, { messageType: MessageType.inform, ...firmwareOptions.seabiosPxe }, { ciaddr: '10.213.7.150' }),
    want: { kind: 'ignore', code: 'unsupported-message' },
  },
  {
    name: 'a BOOTREPLY (the site server\'s offer, heard on 67): ignored',
    request: { ...discover(firmwareOptions.seabiosPxe), op: BootOp.reply },
    want: { kind: 'ignore', code: 'not-a-request' },
  },
  {
    name: 'plain BOOTP: ignored',
    request: clientPacket(mac, { vendorClassId: 'PXEClient:Arch:00000:UNDI:002001' }),
    want: { kind: 'ignore', code: 'not-dhcp' },
  },
  {
    name: 'no Ethernet chaddr: ignored',
    request: discover(firmwareOptions.seabiosPxe, { htype: 6 }),
    want: { kind: 'ignore', code: 'not-ethernet' },
  },
];

describe('proxyRespond', () => {
  test.each(cases)('$name', (c) => {
    const outcome = proxyRespond(
      { ...ctx, ...(c.loaders ? { loaders: c.loaders } : {}) },
      { request: c.request, via: c.via ?? 'dhcp', from: c.from ?? { address: '0.0.0.0', port: 68 }, boot: c.boot ?? boot },
    );
    expect(summary(outcome)).toMatchObject(c.want);
    if (outcome.kind === 'reply') expect(encodeDhcp(outcome.packet).length).toBeGreaterThanOrEqual(300);
  });

  test('echoes xid, chaddr, options 61 and 97 (dnsmasq pxe_misc), keeps giaddr', () => {
    const clientId = { type: 1, id: macBytes(mac) };
    const clientMachineId = { type: 0, guid: Buffer.from('4e6a3e8c2f1b4c618062000000000001', 'hex') };
    const outcome = proxyRespond(ctx, {
      request: discover({ ...firmwareOptions.ipxeBios, clientId, clientMachineId }, { xid: 0x504f2732, giaddr: '10.50.0.1' }),
      via: 'dhcp', from: { address: '10.50.0.1', port: 67 }, boot,
    });
    expect(outcome.kind).toBe('reply');
    if (outcome.kind !== 'reply') return;
    const packet = decodeDhcp(encodeDhcp(outcome.packet));
    expect(packet).toMatchObject({ op: BootOp.reply, xid: 0x504f2732, giaddr: '10.50.0.1', hops: 0 });
    expect(Buffer.from(packet.chaddr)).toEqual(macBytes(mac));
    expect(packet.options.clientId).toEqual(clientId);
    expect(packet.options.clientMachineId).toEqual(clientMachineId);
  });
});

describe('heardAddress: which PXE client has which address, for TFTP and HTTP without leases', () => {
  const pxe = firmwareOptions.ovmfPxe;
  test.each([
    { name: 'the REQUEST to the site server (option 50)', input: { request: request({ ...pxe, serverId: site, requestedAddress: '10.213.7.150' }), via: 'dhcp' }, want: '10.213.7.150' },
    { name: 'a renewal (ciaddr)', input: { request: request(pxe, { ciaddr: '10.213.7.151' }), via: 'dhcp' }, want: '10.213.7.151' },
    { name: 'a 4011 REQUEST (ciaddr)', input: pxeRequest(pxe), want: '10.213.7.150' },
    { name: 'a 4011 REQUEST without ciaddr (its source)', input: { request: request(pxe), via: 'pxe', from: { address: '10.213.7.152', port: 68 } }, want: '10.213.7.152' },
    { name: 'not a DISCOVER\'s wish (option 50)', input: { request: discover({ ...pxe, requestedAddress: '10.213.7.153' }), via: 'dhcp' }, want: undefined },
    { name: 'not a non-PXE client', input: { request: request({ requestedAddress: '10.213.7.154' }), via: 'dhcp' }, want: undefined },
  ] as const)('$name', ({ input, want }) => {
    const heard = heardAddress({ from: { address: '0.0.0.0', port: 68 }, ...input });
    expect(heard).toEqual(want === undefined ? undefined : { ip: want, mac });
  });
});

describe('osRequestAddress: the address a non-PXE client asks the site server for', () => {
  test.each([
    { name: 'a booted OS selecting (option 50)', input: { request: request({ serverId: site, requestedAddress: '10.213.7.160' }), via: 'dhcp' }, want: '10.213.7.160' },
    { name: 'a booted OS renewing (ciaddr)', input: { request: request({}, { ciaddr: '10.213.7.161' }), via: 'dhcp' }, want: '10.213.7.161' },
    { name: 'not a PXE client (heardAddress has those)', input: { request: request({ ...firmwareOptions.ovmfPxe, requestedAddress: '10.213.7.162' }), via: 'dhcp' }, want: undefined },
    { name: 'not a DISCOVER', input: { request: discover({ requestedAddress: '10.213.7.163' }), via: 'dhcp' }, want: undefined },
    { name: 'not on the PXE port', input: { request: request({ requestedAddress: '10.213.7.164' }), via: 'pxe' }, want: undefined },
  ] as const)('$name', ({ input, want }) => {
    const heard = osRequestAddress({ from: { address: '0.0.0.0', port: 68 }, ...input });
    expect(heard).toEqual(want === undefined ? undefined : { ip: want, mac });
  });
});
