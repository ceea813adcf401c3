// The hardware inventory a machine reports when it enlists (images/micro enlist-agent). One TypeBox
// schema gives the HTTP validation and the static type.
import { Type, type Static } from '@sinclair/typebox';

const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' });

export const NicSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  mac: Mac,
  driver: Type.String({ maxLength: 128 }),
  link: Type.Boolean(),
  speedMbps: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
}, { additionalProperties: false });

export const DiskSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  sizeBytes: Type.Integer({ minimum: 0 }),
  model: Type.String({ maxLength: 256 }),
  serial: Type.String({ maxLength: 256 }),
  rotational: Type.Boolean(),
}, { additionalProperties: false });

export const InventorySchema = Type.Object({
  bootMac: Mac,
  arch: Type.String({ minLength: 1, maxLength: 32 }),
  kernel: Type.String({ maxLength: 128 }),
  cpu: Type.Object({
    count: Type.Integer({ minimum: 1, maximum: 65536 }),
    model: Type.String({ maxLength: 256 }),
  }, { additionalProperties: false }),
  memoryBytes: Type.Integer({ minimum: 1 }),
  nics: Type.Array(NicSchema, { minItems: 1, maxItems: 256 }),
  disks: Type.Array(DiskSchema, { maxItems: 1024 }),
  dmi: Type.Object({
    vendor: Type.String({ maxLength: 256 }),
    product: Type.String({ maxLength: 256 }),
    serial: Type.String({ maxLength: 256 }),
    uuid: Type.String({ maxLength: 64 }),
  }, { additionalProperties: false }),
}, { additionalProperties: false });

export type Inventory = Static<typeof InventorySchema>;
export type Nic = Static<typeof NicSchema>;
export type Disk = Static<typeof DiskSchema>;
