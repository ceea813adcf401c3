// A power driver for tests of the life-cycle service (STYLE.md §12: shared fakes in one module). It
// records every call in order, tracks the power state its actions leave, and can be told to answer
// queries from a script, to be slow, or to fail.
import type { PowerAction, PowerDriver, PowerState } from '../../src/power/index.js';

export type FakePowerCall = PowerAction | 'soft' | 'query';

export class FakePowerDriver implements PowerDriver {
  readonly type = 'fake';
  /** Every call, in the order it started. */
  readonly calls: FakePowerCall[] = [];
  /** What the chassis is now: on/cycle leave it on, off/soft leave it off (only once the action finishes). */
  state: 'on' | 'off' = 'off';
  /** Answers for query(), first to last; when empty, query() reads `state` ('unknown': a manual-like driver). */
  answers: PowerState[] = [];
  /** Milliseconds an action takes (a slow BMC). */
  delays: Partial<Record<FakePowerCall, number>> = {};
  /** An action that throws this, with a BMC-like message. */
  failures: Partial<Record<FakePowerCall, string>> = {};
  /** Answer 'unknown' to every query, as the manual driver does. */
  unknowable = false;

  on(): Promise<void> {
    return this.act('on', 'on');
  }

  off(): Promise<void> {
    return this.act('off', 'off');
  }

  cycle(): Promise<void> {
    return this.act('cycle', 'on');
  }

  /** The ACPI power button: the fake's "OS" always obeys it. */
  soft(): Promise<void> {
    return this.act('soft', 'off');
  }

  async query(): Promise<PowerState> {
    this.calls.push('query');
    await this.wait('query');
    if (this.unknowable) return 'unknown';
    return this.answers.shift() ?? this.state;
  }

  /** The actions only, without queries. */
  get actions(): FakePowerCall[] {
    return this.calls.filter((c) => c !== 'query');
  }

  private async act(call: Exclude<FakePowerCall, 'query'>, after: 'on' | 'off'): Promise<void> {
    this.calls.push(call);
    await this.wait(call);
    this.state = after;
  }

  private async wait(call: FakePowerCall): Promise<void> {
    const ms = this.delays[call];
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
    const failure = this.failures[call];
    if (failure) throw new Error(failure);
  }
}

/** Reads the driver's power state until it is `want` (BMCs answer an action before the machine changed). */
export async function untilPowerState(driver: Pick<PowerDriver, 'query'>, want: PowerState, timeoutMs: number, pauseMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: PowerState | undefined;
  while (Date.now() < deadline) {
    last = await driver.query();
    if (last === want) return;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`power never read ${want} within ${timeoutMs} ms (last: ${last})`);
}
