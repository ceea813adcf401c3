// Who is asking: a decoded request -> BootClient (mac, arch, firmware, uuid). Pure.
// Firmware picks the loader, arch picks the kernel (STYLE.md §4); what each firmware really sends is
// in FACTS.md "What each client sends (DHCP)".
import type { Arch, BootClient, Firmware } from '../machines/boot.js';
import { formatHexColons, HTYPE_ETHERNET, type DhcpPacket, type UserClass } from './codec/index.js';

interface ArchCode {
  readonly arch: Arch;
  /** Any UEFI flavour (PXE or HTTP), as opposed to legacy BIOS. */
  readonly efi: boolean;
}

/**
 * RFC 4578 §2.1 option 93 values, with the IANA "Processor Architecture Types" registry additions.
 * 9 is "EFI BC" in RFC 4578, but x64 UEFI firmware sends it instead of 7 in the field (FACTS.md).
 */
const archCodes: ReadonlyMap<number, ArchCode> = new Map([
  [0, { arch: 'x86', efi: false }], // x86 BIOS
  [6, { arch: 'unknown', efi: true }], // x86 UEFI (IA32)
  [7, { arch: 'x86_64-efi', efi: true }], // x64 UEFI
  [9, { arch: 'x86_64-efi', efi: true }], // EFI BC, sent by x64 firmware
  [10, { arch: 'unknown', efi: true }], // ARM 32-bit UEFI
  [11, { arch: 'arm64-efi', efi: true }], // ARM 64-bit UEFI
  [15, { arch: 'unknown', efi: true }], // x86 UEFI HTTP
  [16, { arch: 'x86_64-efi', efi: true }], // x64 UEFI HTTP
  [18, { arch: 'unknown', efi: true }], // ARM 32-bit UEFI HTTP
  [19, { arch: 'arm64-efi', efi: true }], // ARM 64-bit UEFI HTTP
]);

/** `PXEClient:Arch:00007:UNDI:003000` (PXE 2.1 spec §2.2.5); the arch is decimal. */
const VENDOR_CLASS_ARCH = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/;

/** The client's MAC from chaddr, or undefined when chaddr is not an Ethernet address. */
export function clientMac(packet: DhcpPacket): string | undefined {
  if (packet.htype !== HTYPE_ETHERNET || packet.chaddr.length !== 6) return undefined;
  return formatHexColons(packet.chaddr);
}

/** The client's architecture code: option 93 first, else parsed from option 60 (some firmware omits 93). */
export function archCode(packet: DhcpPacket): number | undefined {
  const fromOption93 = packet.options.clientArchitectures?.[0];
  if (fromOption93 !== undefined) return fromOption93;
  const match = VENDOR_CLASS_ARCH.exec(packet.options.vendorClassId ?? '');
  return match ? Number(match[1]) : undefined;
}

export function userClasses(userClass: UserClass | undefined): readonly string[] {
  if (!userClass) return [];
  return userClass.format === 'raw' ? [userClass.data] : userClass.classes;
}

export function classifyFirmware(packet: DhcpPacket): Firmware {
  // iPXE first: chainloaded or ROM iPXE also says PXEClient, and must get its script, not a loader
  // again (that loops, FACTS.md).
  if (userClasses(packet.options.userClass).includes('iPXE')) return 'ipxe';
  const vendorClass = packet.options.vendorClassId ?? '';
  if (vendorClass.startsWith('HTTPClient')) return 'uefi-http';
  if (vendorClass.startsWith('PXEClient')) {
    const code = archCode(packet);
    const known = code === undefined ? undefined : archCodes.get(code);
    if (known?.efi === false) return 'bios-pxe';
    if (known?.efi === true) return 'uefi-pxe';
  }
  return 'unknown';
}

/** undefined when the request has no Ethernet MAC to key a lease or a machine on. */
export function classifyClient(packet: DhcpPacket): BootClient | undefined {
  const mac = clientMac(packet);
  if (mac === undefined) return undefined;
  const code = archCode(packet);
  const arch = (code === undefined ? undefined : archCodes.get(code)?.arch) ?? 'unknown';
  const uuid = machineUuid(packet);
  const client: { -readonly [K in keyof BootClient]: BootClient[K] } = { mac, arch, firmware: classifyFirmware(packet) };
  if (uuid) client.uuid = uuid; // assigned, not spread: this runs for every packet (reply-fields.ts)
  return client;
}

/**
 * Option 97 as a canonical UUID string. PXE firmware copies the SMBIOS System UUID octets, whose
 * first three fields are little-endian (SMBIOS 2.6+ §7.2.1): QEMU's iPXE ROM, started with
 * `-uuid 8c3e6a4e-1b2f-...`, sends 4e 6a 3e 8c 2f 1b ... (testdata/dhcp/ipxe-bios-discover.txt).
 * Swapping those fields gives the UUID that dmidecode, the BMC and QEMU show. All zeros means
 * "no UUID" (OVMF without -uuid, FACTS.md).
 */
export function machineUuid(packet: DhcpPacket): string | undefined {
  const id = packet.options.clientMachineId;
  if (!id || id.type !== 0 || id.guid.every((octet) => octet === 0)) return undefined;
  const g = id.guid;
  const hex = (indexes: number[]) => indexes.map((i) => g[i]!.toString(16).padStart(2, '0')).join('');
  return [
    hex([3, 2, 1, 0]), hex([5, 4]), hex([7, 6]), hex([8, 9]), hex([10, 11, 12, 13, 14, 15]),
  ].join('-');
}
