// Every power driver is one entry here (code review 2026-12 item 6): its settings schema, which of
// its settings are secrets, how the CLI spells it, and how to make the driver. The API's union
// schema, the factory, the CLI's --power parser and the allow-list views are all derived from this
// list, so a new driver is one entry and cannot leak a password by default.
import { Type, type Static } from '@sinclair/typebox';
import { networkPowerEntries } from './bmc-entries.js';
import type { PowerDriverEntry } from './entry.js';
import { ManualPowerDriver } from './manual.js';
import { QemuPowerDriver } from './qemu.js';
import { maxSocketPathBytes } from './qmp.js';

export type { PowerDriverEntry, PowerDriverOptions } from './entry.js';

const qemuSchema = Type.Object({
  type: Type.Literal('qemu'),
  socket: Type.String({
    pattern: '^/', maxLength: maxSocketPathBytes,
    description: 'absolute path of the QMP unix socket (QEMU started with -no-shutdown -qmp unix:<socket>,server=on,wait=off)',
  }),
}, { additionalProperties: false });

const manualSchema = Type.Object({
  type: Type.Literal('manual'),
}, { additionalProperties: false, description: 'no power control: the operator switches the machine by hand' });

const qemu: PowerDriverEntry<typeof qemuSchema> = {
  type: 'qemu', schema: qemuSchema, secretFields: [], cliSyntax: 'qemu:<absolute path of the QMP socket>',
  parseCli: (text) => {
    const socket = /^qemu:(\/.+)$/.exec(text)?.[1];
    return socket === undefined ? undefined : { type: 'qemu', socket };
  },
  create: (settings, options) => new QemuPowerDriver({ socket: settings.socket, timeoutMs: options.timeoutMs, log: options.log }),
};

const manual: PowerDriverEntry<typeof manualSchema> = {
  type: 'manual', schema: manualSchema, secretFields: [], cliSyntax: 'manual',
  parseCli: (text) => (text === 'manual' ? { type: 'manual' } : undefined),
  create: (_settings, options) => new ManualPowerDriver({ machine: options.machine, log: options.log }),
};

const { ipmi, redfish, webhook } = networkPowerEntries;

export const powerDrivers: readonly PowerDriverEntry[] = [qemu, manual, ipmi, redfish, webhook] as readonly PowerDriverEntry[];

export const QemuPowerSettingsSchema = qemuSchema;
export const ManualPowerSettingsSchema = manualSchema;

/** A machine's power settings, as the operator API accepts them and the store keeps them. */
export const PowerSettingsSchema = Type.Union([qemuSchema, manualSchema, ipmi.schema, redfish.schema, webhook.schema]);
export type PowerSettings = Static<typeof PowerSettingsSchema>;

export function powerDriverEntry(type: unknown): PowerDriverEntry | undefined {
  return powerDrivers.find((d) => d.type === type);
}

/** Settings of any driver, as stored (the views take what the store holds, checked or not). */
interface AnyPowerSettings { readonly type: string; readonly [setting: string]: unknown }

/** What a view shows for a secret: that there is one, never its value or its length. */
export const secretMask = '(secret)';

/**
 * The settings a view may show: the driver's non-secret fields, listed by name (an allow-list); a
 * secret map (webhook headers) shows its keys with every value masked.
 */
export function publicPowerSettings(settings: AnyPowerSettings): Record<string, unknown> {
  const entry = powerDriverEntry(settings.type);
  if (!entry) return { type: settings.type };
  const shown: Record<string, unknown> = {};
  for (const name of Object.keys(entry.schema.properties)) {
    if (entry.secretFields.includes(name)) continue;
    const value = settings[name];
    if (value === undefined) continue;
    if (entry.secretMaps?.includes(name)) {
      shown[name] = typeof value === 'object' && value !== null ? Object.fromEntries(Object.keys(value).map((k) => [k, secretMask])) : secretMask;
    } else {
      shown[name] = value;
    }
  }
  return shown;
}

/** The address of the BMC these settings reach, for drivers that have one (ipmi, redfish). */
export function bmcAddressOf(settings: AnyPowerSettings): string | undefined {
  const entry = powerDriverEntry(settings.type);
  return entry?.bmcAddress?.(settings as never)?.toLowerCase();
}

/** The driver's warnings about these settings (unverified TLS), for the machine's timeline. */
export function powerSettingsWarnings(settings: AnyPowerSettings): string[] {
  const entry = powerDriverEntry(settings.type);
  return entry?.warnings?.(settings as never) ?? [];
}
