// The `qemu` power driver: QEMU is the chassis, QMP its power button. QEMU runs with -no-shutdown, so
// a guest power-off leaves the process alive in run state 'shutdown' instead of exiting, and the
// machine can be powered on again (src/lab/qemu.ts chassisArgs).
//
// Run states and transitions as measured on QEMU 7.2 (see test/power/qemu.test.ts):
// - `stop` freezes the vCPUs at once (running -> paused); the guest cannot see or veto it, unlike
//   system_powerdown, which only presses the ACPI button for the guest OS to act on.
// - `system_reset` resets every device and the CPUs. QEMU carries it out asynchronously in its main
//   loop and reports it with a RESET event; a VM that was not running then sits in 'prelaunch'.
//   It is the only way out of 'shutdown' (`cont` there fails: "Resetting the Virtual Machine is
//   required"). With -no-reboot (-action reboot=shutdown) QEMU turns it into a shutdown instead
//   (SHUTDOWN event, reason host-qmp-system-reset), and a later `cont` resumes the old guest: that
//   is refused below with a message, since no clean power-on is possible then.
// - `cont` starts the vCPUs (prelaunch|paused -> running): the firmware starts from its reset vector.
//   SeaBIOS, finding it had already started, takes its resume path and reboots itself ("Attempting
//   a hard reboot"); under TCG that reboot can fire twice, so POST may begin twice within a few ms.
//   Harmless for a power-on, but tests that count firmware starts must allow for it.
import type { Logger } from 'pino';
import { PowerError, type PowerDriver, type PowerState } from './driver.js';
import { withQmp, type QmpEvent, type QmpSession } from './qmp.js';

export interface QemuPowerOptions {
  /** The unix socket of `-qmp unix:<socket>,server=on,wait=off`. */
  readonly socket: string;
  /** Deadline for one whole action (connect, greeting, commands), ms. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
}

export const defaultQmpTimeoutMs = 5000;

/** QMP `query-status` run states (qapi/run-state.json) that mean the guest is not executing. */
const offStatuses: ReadonlySet<string> = new Set(['shutdown', 'paused', 'prelaunch']);

/** running -> on; shutdown, paused, prelaunch -> off; anything else (guest-panicked, ...) -> unknown. */
export function powerStateOf(status: string): PowerState {
  if (status === 'running') return 'on';
  return offStatuses.has(status) ? 'off' : 'unknown';
}

export class QemuPowerDriver implements PowerDriver {
  readonly type = 'qemu';
  private readonly timeoutMs: number;

  constructor(private readonly options: QemuPowerOptions) {
    this.timeoutMs = options.timeoutMs ?? defaultQmpTimeoutMs;
  }

  async query(): Promise<PowerState> {
    return powerStateOf(await this.session((qmp) => runStatus(qmp)));
  }

  /** From any state but running: reset (clears a guest power-off, a pause), then start the vCPUs. */
  async on(): Promise<void> {
    await this.session(async (qmp) => {
      const status = await runStatus(qmp);
      if (status === 'running') return;
      await this.reset(qmp);
      await qmp.execute('cont');
      this.options.log?.info({ socket: this.options.socket, from: status }, 'qemu power on');
    });
  }

  /**
   * Freeze the vCPUs (`stop`), then reset the machine so nothing can resume where the guest was: the
   * next `on` boots the firmware afresh. Already off ('shutdown', 'prelaunch'): nothing to do.
   */
  async off(): Promise<void> {
    await this.session(async (qmp) => {
      const status = await runStatus(qmp);
      if (status === 'shutdown' || status === 'prelaunch') return;
      await qmp.execute('stop');
      await this.reset(qmp);
      this.options.log?.info({ socket: this.options.socket, from: status }, 'qemu power off');
    });
  }

  /** stop, system_reset, cont in one session: the machine ends up on, booting from its firmware. */
  async cycle(): Promise<void> {
    await this.session(async (qmp) => {
      await qmp.execute('stop'); // a no-op unless running
      await this.reset(qmp);
      await qmp.execute('cont');
      this.options.log?.info({ socket: this.options.socket }, 'qemu power cycle');
    });
  }

  private session<T>(work: (qmp: QmpSession) => Promise<T>): Promise<T> {
    return withQmp(this.options.socket, this.timeoutMs, work);
  }

  /** system_reset, then wait until QEMU has carried it out (its RESET event). */
  private async reset(qmp: QmpSession): Promise<void> {
    const mark = qmp.eventCount;
    await qmp.execute('system_reset');
    const ours = (event: QmpEvent) => event.data?.guest !== true && (event.event === 'RESET' || event.event === 'SHUTDOWN');
    const event = await qmp.waitForEvent(mark, ours, 'QEMU to carry out system_reset (RESET event)');
    if (event.event === 'SHUTDOWN') {
      throw new PowerError(`QEMU behind ${this.options.socket} turns a reset into a shutdown: it runs with -no-reboot ` +
        '(-action reboot=shutdown), so it cannot be powered off and on again cleanly. Start it with -no-shutdown and ' +
        'without -no-reboot');
    }
  }
}

async function runStatus(qmp: QmpSession): Promise<string> {
  const reply = await qmp.execute('query-status') as { status?: unknown } | undefined;
  if (typeof reply?.status !== 'string') throw new PowerError(`QEMU answered query-status without a status: ${JSON.stringify(reply)}`);
  return reply.status;
}
