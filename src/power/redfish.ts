// The `redfish` power driver: DMTF Redfish (DSP0266) over HTTPS with Basic authentication, as MAAS's
// redfish driver does. Paths and properties are those of the ComputerSystem schema (DSP2046):
// discovery via /redfish/v1/Systems, `PowerState`, the `ComputerSystem.Reset` action and a one-time
// boot override (`Boot.BootSourceOverrideEnabled: Once`, `BootSourceOverrideTarget: Pxe`).
// Measured against OpenStack sushy-tools (libvirt driver; test/interop/redfish-power.test.ts):
// actions answer 204 before the VM has changed state, so callers confirm by polling `query()`;
// there is no ETag (If-Match is sent only when the server gives one); "Once" reads back as "Continuous".
import type { Logger } from 'pino';
import { httpCall, type HttpAnswer, type TlsChoice } from './https-client.js';
import { PowerError, type BootFirmware, type PowerDriver, type PowerState } from './driver.js';

export interface RedfishSettings {
  /** Host, host:port or https:// URL of the BMC (https:// is assumed, as MAAS does). */
  readonly address: string;
  readonly user: string;
  readonly password: string;
  /** The member of /redfish/v1/Systems to drive; absent: the only one there is. */
  readonly systemId?: string;
  /** Check the BMC's certificate (system CAs); off by default, since BMCs ship self-signed ones. */
  readonly verifyTls?: boolean;
  /** PEM of the CA (or the BMC's self-signed certificate) to verify against; implies verification. */
  readonly caCert?: string;
}

export interface RedfishPowerOptions {
  /** Deadline of one HTTP request, ms. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
}

export const defaultRedfishTimeoutMs = 20_000;

/**
 * PowerState (DSP2046 Resource.PowerState) as this interface knows it: a machine powering off is still
 * on, one powering on not yet; Paused (firmware halted, power applied) is on.
 */
const powerStates: Readonly<Record<string, PowerState>> = {
  On: 'on', PoweringOff: 'on', Paused: 'on', Off: 'off', PoweringOn: 'off',
};

/** Which ResetType each action sends, in order of preference, from those the system allows. */
const resetTypes = {
  on: ['On', 'ForceOn', 'PushPowerButton'],
  off: ['ForceOff'],
  cycle: ['ForceRestart', 'PowerCycle'],
  soft: ['GracefulShutdown', 'PushPowerButton'],
} as const;

export interface ComputerSystem {
  readonly '@odata.id'?: string;
  readonly '@odata.etag'?: string;
  readonly PowerState?: string;
  /** The SMBIOS system UUID (DSP0268 ComputerSystem.UUID), in whatever case the BMC writes it. */
  readonly UUID?: string;
  readonly Boot?: {
    readonly BootSourceOverrideMode?: string;
    readonly 'BootSourceOverrideMode@Redfish.AllowableValues'?: readonly string[];
  };
  readonly Actions?: Record<string, { target?: string; 'ResetType@Redfish.AllowableValues'?: string[] } | undefined>;
}

export class RedfishPowerDriver implements PowerDriver {
  readonly type = 'redfish';
  private readonly base: URL;
  private readonly tls: TlsChoice;
  private readonly timeoutMs: number;

  constructor(private readonly settings: RedfishSettings, private readonly options: RedfishPowerOptions = {}) {
    this.base = baseUrl(settings.address);
    this.tls = { verify: settings.verifyTls === true, ...(settings.caCert ? { caCert: settings.caCert } : {}) };
    this.timeoutMs = options.timeoutMs ?? defaultRedfishTimeoutMs;
  }

  async query(): Promise<PowerState> {
    const { system } = await this.system();
    return stateOf(system);
  }

  async on(): Promise<void> {
    const { path, system } = await this.system();
    if (stateOf(system) === 'on') return;
    await this.reset(path, system, 'on');
  }

  async off(): Promise<void> {
    const { path, system } = await this.system();
    if (stateOf(system) === 'off') return;
    await this.reset(path, system, 'off');
  }

  /** ForceRestart from on; from off a plain On (a restart of an off system is refused by many BMCs). */
  async cycle(): Promise<void> {
    const { path, system } = await this.system();
    await this.reset(path, system, stateOf(system) === 'off' ? 'on' : 'cycle');
  }

  async soft(): Promise<void> {
    const { path, system } = await this.system();
    await this.reset(path, system, 'soft');
  }

  async setNextBootNetwork(firmware?: BootFirmware): Promise<void> {
    const { path, system, etag } = await this.system();
    const boot = bootOverride(system, firmware);
    const answer = await this.call('PATCH', path, { Boot: boot }, etag ? { 'If-Match': etag } : {});
    this.check(answer, `PATCH ${path} (boot override ${Object.values(boot).join('/')})`);
  }

  async systemUuid(): Promise<string | undefined> {
    const { system } = await this.system();
    // DSP0268 fixes the UUID's pattern, not its case; enlistment compares the SMBIOS UUID lowercase.
    const uuid = typeof system.UUID === 'string' ? system.UUID.trim().toLowerCase() : '';
    return uuid === '' ? undefined : uuid;
  }

  /** The system to drive: the configured one, else the only member of the Systems collection. */
  private async system(): Promise<{ path: string; system: ComputerSystem; etag?: string }> {
    let path: string;
    if (this.settings.systemId !== undefined) {
      path = `/redfish/v1/Systems/${encodeURIComponent(this.settings.systemId)}`;
    } else {
      const collection = this.json<{ Members?: Array<{ '@odata.id'?: string }> }>(
        this.check(await this.call('GET', '/redfish/v1/Systems'), 'GET /redfish/v1/Systems'), '/redfish/v1/Systems');
      const members = (collection.Members ?? []).map((m) => m['@odata.id']).filter((m): m is string => typeof m === 'string');
      if (members.length !== 1) {
        throw new PowerError(`Redfish at ${this.base.host}: ${members.length} systems in /redfish/v1/Systems`
          + (members.length > 1 ? ` (${members.slice(0, 8).map((m) => m.split('/').pop()).join(', ')}): set systemId to one of them` : ''));
      }
      path = members[0]!;
    }
    const answer = this.check(await this.call('GET', path), `GET ${path}`);
    const system = this.json<ComputerSystem>(answer, path);
    const header = answer.headers.etag;
    const etag = system['@odata.etag'] ?? (typeof header === 'string' ? header : undefined);
    return { path, system, ...(etag ? { etag } : {}) };
  }

  private async reset(path: string, system: ComputerSystem, action: keyof typeof resetTypes): Promise<void> {
    const reset = system.Actions?.['#ComputerSystem.Reset'];
    const allowed = reset?.['ResetType@Redfish.AllowableValues'];
    const resetType = resetTypes[action].find((t) => !allowed || allowed.includes(t));
    if (!resetType) {
      throw new PowerError(`Redfish at ${this.base.host}: the system allows no ResetType for ${action} (it allows ${allowed?.join(', ')})`);
    }
    const target = reset?.target ?? `${path}/Actions/ComputerSystem.Reset`;
    // The target comes from the BMC's answer: an absolute URL elsewhere would get our credentials.
    if (new URL(target, this.base).origin !== this.base.origin) {
      throw new PowerError(`Redfish at ${this.base.host}: the Reset action points at another server (${new URL(target, this.base).origin}); refused`);
    }
    this.check(await this.call('POST', target, { ResetType: resetType }), `Reset ${resetType}`);
    this.options.log?.info({ bmc: this.base.host, resetType }, 'redfish reset done');
  }

  private call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const auth = Buffer.from(`${this.settings.user}:${this.settings.password}`).toString('base64');
    return httpCall({
      method, url: new URL(path, this.base), body, tls: this.tls, timeoutMs: this.timeoutMs,
      headers: { Authorization: `Basic ${auth}`, ...headers },
    });
  }

  /** 2xx passes (200, 202 with a task, 204); anything else is a PowerError with the server's own message. */
  private check(answer: HttpAnswer, what: string): HttpAnswer {
    if (answer.status >= 200 && answer.status < 300) return answer;
    const where = `Redfish ${what} at ${this.base.host}`;
    if (answer.status === 401) throw new PowerError(`${where}: the BMC refused user ${this.settings.user} or the password (401)`);
    throw new PowerError(`${where}: HTTP ${answer.status}${redfishMessage(answer.text)}`);
  }

  private json<T>(answer: HttpAnswer, path: string): T {
    try {
      return JSON.parse(answer.text) as T;
    } catch {
      throw new PowerError(`Redfish at ${this.base.host}: ${path} did not answer JSON`);
    }
  }
}

/**
 * The one-time PXE override, with BootSourceOverrideMode (DSP2046 ComputerSystem.Boot: UEFI or
 * Legacy) when the firmware is known and the system takes the property: it lists the mode in
 * `BootSourceOverrideMode@Redfish.AllowableValues`, or, listing none, reports the property at all
 * (sushy-tools does, for a libvirt domain whose <os> names its firmware). Otherwise the property is left out: a BMC without it would refuse the PATCH
 * (DSP0266 lets a service answer a PATCH with an unsupported property with 400), and the
 * override must not fail over a hint.
 */
export function bootOverride(system: ComputerSystem, firmware?: BootFirmware): Record<string, string> {
  const boot: Record<string, string> = { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' };
  if (firmware === undefined) return boot;
  const mode = firmware === 'uefi' ? 'UEFI' : 'Legacy';
  const allowed = system.Boot?.['BootSourceOverrideMode@Redfish.AllowableValues'];
  const takes = allowed ? allowed.includes(mode) : system.Boot?.BootSourceOverrideMode !== undefined;
  return takes ? { ...boot, BootSourceOverrideMode: mode } : boot;
}

function stateOf(system: ComputerSystem): PowerState {
  const state = system.PowerState === undefined ? undefined : powerStates[system.PowerState];
  if (state) return state;
  throw new PowerError(`Redfish system ${system['@odata.id'] ?? ''} reports PowerState ${JSON.stringify(system.PowerState)}`);
}

export function baseUrl(address: string): URL {
  return new URL(/^https?:\/\//.test(address) ? address : `https://${address}`);
}

/** The message of a Redfish error body (DSP0266 §9.6 "Error responses"), if there is one. */
function redfishMessage(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: { message?: string; '@Message.ExtendedInfo'?: Array<{ Message?: string }> } }).error;
    const message = error?.['@Message.ExtendedInfo']?.[0]?.Message ?? error?.message;
    return message ? `: ${message.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
