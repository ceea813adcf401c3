// What the registry (registry.ts) knows of each power driver: one entry per driver.
import type { Static, TObject } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { PowerDriver } from './driver.js';

export interface PowerDriverOptions {
  /** Names the machine in operator notes (manual driver) and in errors. */
  readonly machine?: string;
  readonly log?: Logger;
  /** Deadline of one power action (one BMC request or client run), ms; each driver has its own default. */
  readonly timeoutMs?: number;
}

export interface PowerDriverEntry<S extends TObject = TObject> {
  readonly type: string;
  /** The settings as the API accepts them and the store keeps them; closed, with `type` a literal. */
  readonly schema: S;
  /**
   * Settings that are secrets (passwords, keys): never in an API view, the CLI, a log or an event,
   * and sealed at rest (src/power/sealing.ts). Views list the other fields by name
   * (publicPowerSettings), never the settings minus these.
   */
  readonly secretFields: readonly string[];
  /** Settings that are maps whose values are secrets and whose keys are not (webhook headers). */
  readonly secretMaps?: readonly string[];
  /** How `--power` spells this driver, for the CLI's help and errors. */
  readonly cliSyntax: string;
  /**
   * The settings `--power <text>` means, or undefined when the text is not this driver's. The CLI
   * adds its other flags (--address, --user, ...) by setting name (src/cli/power-options.ts).
   */
  parseCli(text: string): Partial<Static<S>> | undefined;
  /**
   * The BMC's network address (host name or IP, no port or scheme) for drivers that talk to a BMC: a
   * machine added by its BMC alone is matched by it to the machine that enlists reporting it.
   */
  bmcAddress?(settings: Static<S>): string | undefined;
  /** Warnings about settings the operator chose (TLS not verified): recorded on the machine's timeline. */
  warnings?(settings: Static<S>): string[];
  create(settings: Static<S>, options: PowerDriverOptions): PowerDriver;
}
