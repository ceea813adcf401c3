// Power drivers behind one interface (ARCHITECTURE.md "power/"): the public surface of src/power.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { ValidationError } from '../errors.js';
import type { PowerDriver } from './driver.js';
import { ManualPowerDriver } from './manual.js';
import { QemuPowerDriver } from './qemu.js';
import { maxSocketPathBytes } from './qmp.js';

export { PowerError, type PowerAction, type PowerDriver, type PowerState } from './driver.js';
export { ManualPowerDriver, type ManualPowerOptions } from './manual.js';
export { QemuPowerDriver, defaultQmpTimeoutMs, powerStateOf, type QemuPowerOptions } from './qemu.js';

export const QemuPowerSettingsSchema = Type.Object({
  type: Type.Literal('qemu'),
  socket: Type.String({
    pattern: '^/', maxLength: maxSocketPathBytes,
    description: 'absolute path of the QMP unix socket (QEMU started with -no-shutdown -qmp unix:<socket>,server=on,wait=off)',
  }),
}, { additionalProperties: false });

export const ManualPowerSettingsSchema = Type.Object({
  type: Type.Literal('manual'),
}, { additionalProperties: false, description: 'no power control: the operator switches the machine by hand' });

/** A machine's power settings, as the operator API accepts them and the store keeps them. */
export const PowerSettingsSchema = Type.Union([QemuPowerSettingsSchema, ManualPowerSettingsSchema]);

export type PowerSettings = Static<typeof PowerSettingsSchema>;

export interface PowerDriverOptions {
  /** Names the machine in operator notes (manual driver). */
  readonly machine?: string;
  readonly log?: Logger;
  /** Deadline of one power action over QMP, ms (qemu driver). */
  readonly timeoutMs?: number;
}

export function createPowerDriver(settings: PowerSettings, options: PowerDriverOptions = {}): PowerDriver {
  switch (settings.type) {
    case 'qemu':
      return new QemuPowerDriver({ socket: settings.socket, timeoutMs: options.timeoutMs, log: options.log });
    case 'manual':
      return new ManualPowerDriver({ machine: options.machine, log: options.log });
    default:
      return assertNever(settings);
  }
}

/** Checks stored or submitted settings; throws ValidationError saying what is wrong. */
export function parsePowerSettings(value: unknown): PowerSettings {
  if (Value.Check(PowerSettingsSchema, value)) return value;
  const type = (value as { type?: unknown } | null)?.type;
  if (type !== 'qemu' && type !== 'manual') {
    throw new ValidationError(`power type must be 'qemu' or 'manual', got ${JSON.stringify(type)}`);
  }
  const schema = type === 'qemu' ? QemuPowerSettingsSchema : ManualPowerSettingsSchema;
  const problems = [...Value.Errors(schema, value)].slice(0, 5)
    .map((e) => `${e.path || '/'}: ${e.message}${e.value === undefined ? '' : ` (got ${JSON.stringify(e.value)})`}`);
  throw new ValidationError(`invalid ${type} power settings: ${problems.join('; ')}`);
}

function assertNever(value: never): never {
  throw new ValidationError(`unknown power type ${JSON.stringify((value as { type?: unknown }).type)}`);
}
