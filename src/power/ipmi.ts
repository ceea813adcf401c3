// The `ipmi` power driver: IPMI 2.0 over LAN (RMCP+, "lanplus") through Debian's ipmitool, as MAAS
// drives BMCs through its packaged clients. Everything below was measured against OpenIPMI's
// ipmi_sim 2.0.33 with ipmitool 1.8.19 (../shared/recipes/bmc.md 1.3, test/interop/ipmi-power.test.ts):
// - The exit status is not trusted: `chassis bootdev pxe` that the BMC rejects prints
//   "Set Chassis Boot Parameter 5 failed" and exits 0. Every command's answer is read from its output.
// - The password goes in through IPMI_PASSWORD (`-E`), never `-P`: arguments are world-readable in ps.
// - `-v` makes the reason of a failed session visible ("RAKP 2 HMAC is invalid": wrong password;
//   "unauthorized name": unknown user; "Get Auth Capabilities error": nothing answers), which plain
//   output folds into "Unable to establish IPMI v2 / RMCP+ session".
// - `-C 3` (MAAS's default cipher suite, HMAC-SHA1/AES-CBC-128): without it ipmitool first asks for
//   the cipher suites, which ipmi_sim does not answer ("Unable to Get Channel Cipher Suites").
import type { Logger } from 'pino';
import { runCommand } from './command.js';
import { PowerError, type BootFirmware, type PowerDriver, type PowerState } from './driver.js';

export const ipmiPrivileges = ['user', 'operator', 'administrator'] as const;
export type IpmiPrivilege = (typeof ipmiPrivileges)[number];

export interface IpmiSettings {
  readonly address: string;
  /** UDP port of the BMC's RMCP+ listener; 623 (IPMI 2.0 §13.1) when absent. */
  readonly port?: number;
  readonly user: string;
  readonly password: string;
  /** RMCP+ cipher suite id (IPMI 2.0 §22.15.2); 3 when absent. */
  readonly cipherSuite?: number;
  /** Session privilege; operator when absent: enough for chassis control and boot options (IPMI 2.0 §28). */
  readonly privilege?: IpmiPrivilege;
}

export interface IpmiPowerOptions {
  /** Deadline of one ipmitool run, ms; the process is killed after it. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
  /** The client binary (tests may point at another build). */
  readonly ipmitool?: string;
}

export const defaultIpmiPort = 623;
export const defaultCipherSuite = 3;
/** Beyond ipmitool's own give-up (-N 2 -R 1 below: ~4 s against a BMC that does not answer). */
export const defaultIpmiTimeoutMs = 15_000;

/** Failed-session reasons, as ipmitool -v prints them, and what the operator should do. */
const sessionFailures: ReadonlyArray<readonly [RegExp, string]> = [
  [/RAKP 2 HMAC is invalid/, 'the BMC refused the password'],
  [/unauthorized name/, 'the BMC does not know this user'],
  [/(requested maximum privilege level|insufficient privilege|privilege level)/i, 'the user may not open a session with this privilege level'],
  [/no matching cipher suite|invalid cipher suite|Unsupported cipher suite/i, 'the BMC does not offer this cipher suite'],
  [/Get Auth Capabilities error|No response from remote controller|Insufficient resources for session/, 'no answer from the BMC (address, port, network, or IPMI over LAN disabled)'],
];

export class IpmiPowerDriver implements PowerDriver {
  readonly type = 'ipmi';
  private readonly timeoutMs: number;

  constructor(private readonly settings: IpmiSettings, private readonly options: IpmiPowerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? defaultIpmiTimeoutMs;
  }

  async query(): Promise<PowerState> {
    const output = await this.chassis(['power', 'status']);
    const state = /Chassis Power is (on|off)/.exec(output)?.[1];
    if (state === 'on' || state === 'off') return state;
    throw this.failure('chassis power status', output);
  }

  async on(): Promise<void> {
    await this.expect(['power', 'on'], /Chassis Power Control: Up\/On/);
  }

  async off(): Promise<void> {
    await this.expect(['power', 'off'], /Chassis Power Control: Down\/Off/);
  }

  /**
   * IPMI's power cycle is defined only from on (IPMI 2.0 §28.3: a BMC may refuse it while off, and
   * many do, with completion code D5h); MAAS runs `ipmipower --cycle --on-if-off` for the same reason.
   */
  async cycle(): Promise<void> {
    if (await this.query() === 'off') return this.on();
    await this.expect(['power', 'cycle'], /Chassis Power Control: Cycle/);
  }

  async soft(): Promise<void> {
    await this.expect(['power', 'soft'], /Chassis Power Control: Soft/);
  }

  /**
   * Boot flags valid for the next boot only (ipmitool's default for bootdev, IPMI 2.0 §28.13 parameter
   * 5). Byte 1 bit 5 is the boot type: 0 "PC compatible (legacy)", 1 EFI. ipmitool sends 0 unless
   * given `options=efiboot`, so a UEFI machine gets that flag (as MAAS's ipmi driver does for UEFI
   * machines); firmware unknown or BIOS: the plain command, as before. ipmi_sim 2.0.33 accepts the
   * flag but keeps only the device selector (`chassis bootparam get 5` reads 00 04 00 00 00).
   */
  async setNextBootNetwork(firmware?: BootFirmware): Promise<void> {
    await this.expect(bootdevPxe(firmware), /Set Boot Device to pxe/);
  }

  private async expect(command: readonly string[], success: RegExp): Promise<void> {
    const output = await this.chassis(command);
    if (!success.test(output)) throw this.failure(`chassis ${command.join(' ')}`, output);
    this.options.log?.info({ bmc: this.where(), command: command.join(' ') }, 'ipmi power command done');
  }

  private async chassis(command: readonly string[]): Promise<string> {
    const s = this.settings;
    const args = [
      '-v', '-I', 'lanplus', '-H', s.address, '-p', String(s.port ?? defaultIpmiPort), '-U', s.user, '-E',
      '-C', String(s.cipherSuite ?? defaultCipherSuite), '-L', (s.privilege ?? 'operator').toUpperCase(),
      // 2 s per try and one retry: nothing answering fails in ~4 s (measured) instead of ~18 s with
      // -R 3. Not less than 2 s a try: a BMC slower than the retransmission carries the command out
      // twice (recipe 1.6: four resets for one request), which a power cycle must not be.
      '-N', '2', '-R', '1',
      'chassis', ...command,
    ];
    try {
      const result = await runCommand(this.options.ipmitool ?? 'ipmitool', args, {
        env: { IPMI_PASSWORD: s.password }, timeoutMs: this.timeoutMs,
      });
      return result.output;
    } catch (err) {
      throw new PowerError(`IPMI chassis ${command.join(' ')} at ${this.where()}: ${(err as Error).message}`, { cause: err });
    }
  }

  private where(): string {
    return `${this.settings.address}:${this.settings.port ?? defaultIpmiPort}`;
  }

  /** A PowerError that says why, from what ipmitool printed (never the password: it is not in the output). */
  private failure(what: string, output: string): PowerError {
    const reason = sessionFailures.find(([pattern]) => pattern.test(output))?.[1];
    if (reason) return new PowerError(`IPMI ${what} at ${this.where()} (user ${this.settings.user}): ${reason}`);
    const said = meaningfulLines(output).slice(-2).join(' / ') || 'no output';
    return new PowerError(`IPMI ${what} at ${this.where()} failed: ${said}`);
  }
}

/** The `chassis` arguments that set the next boot to PXE in the firmware's mode. */
export function bootdevPxe(firmware?: BootFirmware): string[] {
  return firmware === 'uefi' ? ['bootdev', 'pxe', 'options=efiboot'] : ['bootdev', 'pxe'];
}

/** ipmitool -v's chatter that explains nothing (the PEN registry, HPM probing of ipmi_sim). */
const noise = /^(Loading IANA PEN Registry|Get HPM\.x Capabilities|Running Get PICMG|Discovered|Running Get VSO|>>|<<)/;

function meaningfulLines(output: string): string[] {
  return output.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !noise.test(l)).map((l) => l.slice(0, 200));
}

/**
 * The ipmi settings for a BMC that commissioning found and gave a user of ours (MAAS's
 * `30-maas-01-bmc-config` reports address, user and password in-band). One place that decides the
 * defaults, so machines enlisted by commissioning and machines added by hand get the same ones.
 */
export function ipmiSettingsFromCommissioning(found: { readonly address: string; readonly user: string; readonly password: string; readonly port?: number }): IpmiSettings & { readonly type: 'ipmi' } {
  return {
    type: 'ipmi', address: found.address, user: found.user, password: found.password,
    ...(found.port !== undefined && found.port !== defaultIpmiPort ? { port: found.port } : {}),
  };
}
