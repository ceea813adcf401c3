// Power drivers behind one interface (ARCHITECTURE.md "power/"): the public surface of src/power.
import { Value } from '@sinclair/typebox/value';
import { ValidationError } from '../errors.js';
import type { PowerDriver } from './driver.js';
import {
  PowerSettingsSchema, powerDriverEntry, powerDrivers, type PowerDriverOptions, type PowerSettings,
} from './registry.js';

export { PowerError, type BootFirmware, type PowerAction, type PowerDriver, type PowerState } from './driver.js';
export { ManualPowerDriver, type ManualPowerOptions } from './manual.js';
export { QemuPowerDriver, defaultQmpTimeoutMs, powerStateOf, type QemuPowerOptions } from './qemu.js';
export { IpmiPowerDriver, ipmiSettingsFromCommissioning, type IpmiSettings } from './ipmi.js';
export { RedfishPowerDriver, type RedfishSettings } from './redfish.js';
export { WebhookPowerDriver, type WebhookSettings } from './webhook.js';
export { hasOpenSecrets, openPowerSettings, sealPowerSettings, type SecretCipher } from './sealing.js';

export {
  bmcAddressOf, ManualPowerSettingsSchema, PowerSettingsSchema, QemuPowerSettingsSchema, powerDrivers, powerDriverEntry, powerSettingsWarnings,
  publicPowerSettings, secretMask, type PowerDriverEntry, type PowerDriverOptions, type PowerSettings,
} from './registry.js';

export function createPowerDriver(settings: PowerSettings, options: PowerDriverOptions = {}): PowerDriver {
  const entry = powerDriverEntry(settings.type);
  if (!entry) throw new ValidationError(`unknown power type ${JSON.stringify(settings.type)}`);
  return entry.create(settings, options);
}

/** Checks stored or submitted settings; throws ValidationError saying what is wrong. */
export function parsePowerSettings(value: unknown): PowerSettings {
  if (Value.Check(PowerSettingsSchema, value)) return value;
  const type = (value as { type?: unknown } | null)?.type;
  const entry = powerDriverEntry(type);
  if (!entry) {
    throw new ValidationError(`power type must be one of ${powerDrivers.map((d) => `'${d.type}'`).join(', ')}, got ${JSON.stringify(type)}`);
  }
  // Secret values are never echoed in the error (the value of a secret field is left out).
  const problems = [...Value.Errors(entry.schema, value)].slice(0, 5)
    .map((e) => {
      const secret = [...entry.secretFields, ...entry.secretMaps ?? []].some((f) => e.path === `/${f}` || e.path.startsWith(`/${f}/`));
      return `${e.path || '/'}: ${e.message}${e.value === undefined || secret ? '' : ` (got ${JSON.stringify(e.value)})`}`;
    });
  throw new ValidationError(`invalid ${type} power settings: ${problems.join('; ')}`);
}
