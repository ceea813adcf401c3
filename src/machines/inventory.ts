// The hardware inventory a machine reports when it enlists (images/micro enlist-agent). One TypeBox
// schema gives the HTTP validation and the static type. It comes from the untrusted boot network:
// every integer has a maximum (probe F12: `memoryBytes: 1e308` and `sizeBytes: 1e300` passed as
// "integers" and the CLI printed 9.5e+301 MiB) and every string is SafeText, because `machines list`
// and `show` print them on the operator's terminal (probe F7).
import { Type, type Static } from '@sinclair/typebox';
import { Closed, Mac, SafeText } from '../schemas.js';

/** 1 PiB of RAM and 1 EiB per disk: far above any machine, far below where doubles lose integers. */
export const MAX_MEMORY_BYTES = 2 ** 50;
export const MAX_DISK_BYTES = 2 ** 60;

export const NicSchema = Closed({
  name: SafeText(64, { minLength: 1 }),
  mac: Mac,
  driver: SafeText(128),
  link: Type.Boolean(),
  // 1.6 Tb/s: the fastest Ethernet in sight, times a margin.
  speedMbps: Type.Union([Type.Integer({ minimum: 0, maximum: 10_000_000 }), Type.Null()]),
});

export const DiskSchema = Closed({
  name: SafeText(64, { minLength: 1 }),
  sizeBytes: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  model: SafeText(256),
  serial: SafeText(256),
  rotational: Type.Boolean(),
});

export const InventorySchema = Closed({
  bootMac: Mac,
  arch: SafeText(32, { minLength: 1 }),
  kernel: SafeText(128),
  /** How the firmware booted the reporting kernel (EFI or legacy BIOS): the mode of the BMC's next network boot. */
  firmware: Type.Optional(Type.Union([Type.Literal('uefi'), Type.Literal('bios')])),
  cpu: Closed({
    count: Type.Integer({ minimum: 1, maximum: 65536 }),
    model: SafeText(256),
  }),
  memoryBytes: Type.Integer({ minimum: 1, maximum: MAX_MEMORY_BYTES }),
  nics: Type.Array(NicSchema, { minItems: 1, maxItems: 256 }),
  disks: Type.Array(DiskSchema, { maxItems: 1024 }),
  dmi: Closed({
    vendor: SafeText(256),
    product: SafeText(256),
    serial: SafeText(256),
    uuid: SafeText(64),
  }),
  // The BMC as the machine sees it in-band (ipmitool lan print over /dev/ipmi0): a machine added by
  // its BMC alone is matched to its record by this address when it enlists (issue 14).
  bmc: Type.Optional(Closed({
    address: Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$', maxLength: 15, description: 'the BMC LAN channel IPv4 address' }),
    mac: Type.Optional(Mac),
  })),
});

export type Inventory = Static<typeof InventorySchema>;
export type Nic = Static<typeof NicSchema>;
export type Disk = Static<typeof DiskSchema>;

/**
 * What a schema cannot say: the boot MAC is one of the machine's NICs (probe F12: any MAC was
 * taken, so a machine could claim another's boot MAC without owning that NIC). Undefined when fine.
 */
export function inventoryProblem(inventory: Inventory): string | undefined {
  const boot = inventory.bootMac.toLowerCase();
  if (!inventory.nics.some((n) => n.mac.toLowerCase() === boot)) {
    return `bootMac ${inventory.bootMac} is not the MAC of any NIC in nics (${inventory.nics.map((n) => n.mac).join(', ')})`;
  }
  return undefined;
}
