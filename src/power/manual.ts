// The `manual` power driver, for machines netboot cannot switch (no BMC, or none configured yet): each
// action only tells the operator what to do by hand, and the power state is never known.
import type { Logger } from 'pino';
import type { PowerAction, PowerDriver, PowerState } from './driver.js';

export interface ManualPowerOptions {
  /** How the operator recognises the machine in the note (hostname, MAC). */
  readonly machine?: string;
  /** Where the notes go; info level, since someone has to act on them. */
  readonly log?: Logger;
}

export class ManualPowerDriver implements PowerDriver {
  readonly type = 'manual';

  constructor(private readonly options: ManualPowerOptions = {}) {}

  /** The note for `action`, for the log, the machine's events or the operator API. */
  instructions(action: PowerAction): string {
    const machine = this.options.machine === undefined ? 'the machine' : `machine ${this.options.machine}`;
    const why = "(power type 'manual': netboot cannot switch it)";
    switch (action) {
      case 'on': return `power on ${machine} by hand ${why}`;
      case 'off': return `power off ${machine} by hand ${why}`;
      case 'cycle': return `power-cycle ${machine} by hand: switch it off, then on again ${why}`;
    }
  }

  async on(): Promise<void> {
    this.tell('on');
  }

  async off(): Promise<void> {
    this.tell('off');
  }

  async cycle(): Promise<void> {
    this.tell('cycle');
  }

  async query(): Promise<PowerState> {
    return 'unknown';
  }

  private tell(action: PowerAction): void {
    this.options.log?.info({ machine: this.options.machine, power: action }, this.instructions(action));
  }
}
