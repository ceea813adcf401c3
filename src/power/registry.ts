// Every power driver is one entry here (code review 2026-12 item 6): its settings schema, which of
// its settings are secrets, how the CLI spells it, and how to make the driver. The API's union
// schema, the factory, the CLI's --power parser and the allow-list views are all derived from this
// list, so a new driver (ipmi, redfish, webhook) is one entry and cannot leak a password by default.
import { Type, type Static, type TObject } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { PowerDriver } from './driver.js';
import { ManualPowerDriver } from './manual.js';
import { QemuPowerDriver } from './qemu.js';
import { maxSocketPathBytes } from './qmp.js';

export interface PowerDriverOptions {
  /** Names the machine in operator notes (manual driver) and in errors. */
  readonly machine?: string;
  readonly log?: Logger;
  /** Deadline of one power action, ms. */
  readonly timeoutMs?: number;
}

export interface PowerDriverEntry<S extends TObject = TObject> {
  readonly type: string;
  /** The settings as the API accepts them and the store keeps them; closed, with `type` a literal. */
  readonly schema: S;
  /**
   * Settings that are secrets (passwords, keys): never in an API view, the CLI, a log or an event.
   * Views list the other fields by name (publicPowerSettings), never the settings minus these.
   */
  readonly secretFields: readonly string[];
  /** How `--power` spells this driver, for the CLI's help and errors. */
  readonly cliSyntax: string;
  /** The settings `--power <text>` means, or undefined when the text is not this driver's. */
  parseCli(text: string): Static<S> | undefined;
  create(settings: Static<S>, options: PowerDriverOptions): PowerDriver;
}

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

export const powerDrivers: readonly PowerDriverEntry[] = [qemu, manual] as readonly PowerDriverEntry[];

export const QemuPowerSettingsSchema = qemuSchema;
export const ManualPowerSettingsSchema = manualSchema;

/** A machine's power settings, as the operator API accepts them and the store keeps them. */
export const PowerSettingsSchema = Type.Union([qemuSchema, manualSchema]);
export type PowerSettings = Static<typeof PowerSettingsSchema>;

export function powerDriverEntry(type: unknown): PowerDriverEntry | undefined {
  return powerDrivers.find((d) => d.type === type);
}

/** The settings a view may show: the driver's non-secret fields, listed by name (an allow-list). */
export function publicPowerSettings(settings: { readonly type: string }): Record<string, unknown> {
  const entry = powerDriverEntry(settings.type);
  if (!entry) return { type: settings.type };
  const shown: Record<string, unknown> = {};
  for (const name of Object.keys(entry.schema.properties)) {
    if (entry.secretFields.includes(name)) continue;
    const value = (settings as Record<string, unknown>)[name];
    if (value !== undefined) shown[name] = value;
  }
  return shown;
}
