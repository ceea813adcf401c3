// Power settings at rest: every secret the driver declares (registry.ts secretFields and
// secretMaps) is sealed before the settings are stored and opened only to build a driver. The
// machine the domain passes around, the API, the CLI (which reads the store), logs and events
// therefore only ever hold the sealed text. The cipher is src/secret-box.ts.
import { powerDriverEntry } from './registry.js';

export interface SecretCipher {
  seal(plain: string): string;
  open(sealed: string): string;
  isSealed(text: string): boolean;
}

interface Settings { readonly type: string; readonly [setting: string]: unknown }

/** The settings with each secret sealed; values already sealed stay as they are. */
export function sealPowerSettings<S extends Settings>(settings: S, cipher: SecretCipher): S {
  return mapSecrets(settings, (value) => (cipher.isSealed(value) ? value : cipher.seal(value)));
}

/**
 * The settings with each secret opened. A value that is not sealed is taken as it is: settings stored
 * before secrets were sealed stay readable (MachineService.start seals them once).
 */
export function openPowerSettings<S extends Settings>(settings: S, cipher: SecretCipher): S {
  return mapSecrets(settings, (value) => (cipher.isSealed(value) ? cipher.open(value) : value));
}

/** The values of the settings' secrets as they are (call it on opened settings for the plain text). */
export function secretValues(settings: Settings): string[] {
  const values: string[] = [];
  mapSecrets(settings, (value) => {
    values.push(value);
    return value;
  });
  return values;
}

/** Whether any secret of these settings is stored in the clear. */
export function hasOpenSecrets(settings: Settings, cipher: SecretCipher): boolean {
  let open = false;
  mapSecrets(settings, (value) => {
    if (!cipher.isSealed(value)) open = true;
    return value;
  });
  return open;
}

function mapSecrets<S extends Settings>(settings: S, map: (value: string) => string): S {
  const entry = powerDriverEntry(settings.type);
  if (!entry) return settings;
  const out: Record<string, unknown> = { ...settings };
  for (const field of entry.secretFields) {
    const value = out[field];
    if (typeof value === 'string') out[field] = map(value);
  }
  for (const field of entry.secretMaps ?? []) {
    const value = out[field];
    if (typeof value === 'object' && value !== null) {
      out[field] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? map(v) : v]));
    }
  }
  return out as S;
}
