// Adding machines by hand (MachineService.add): by MAC, when commissioning starts at once (as in
// MAAS), or by the BMC alone (issue 14), when the record waits for the machine's first network boot
// with a timer of its own. The service gives this its transition, its power queue and its timers.
import type { Logger } from 'pino';
import { ConflictError, ValidationError } from '../errors.js';
import { machineMacProblem } from '../schemas.js';
import type { Store } from '../store/index.js';
import { usableUuid } from '../store/machines-repo.js';
import { bmcAddressOf, powerSettingsWarnings } from '../power/registry.js';
import type { LifecycleEvent } from './lifecycle.js';
import type { Machine, PowerSettingsValue } from './model.js';
import { eventKey, normaliseMac } from './boot.js';
import type { PowerControl } from './power-control.js';

export interface AddFields {
  /** Absent: added by its BMC alone, found when it enlists. */
  readonly mac?: string;
  readonly power: PowerSettingsValue;
  readonly hostname?: string;
  readonly skipTests?: boolean;
}

/** The timer of a machine added by its BMC that has not enlisted yet (not one of the table's). */
export const enlistingTimer = 'enlisting';

export interface MachineAddingDeps {
  readonly store: Pick<Store, 'machines' | 'events'>;
  readonly log: Logger;
  readonly power: Pick<PowerControl, 'seal' | 'readsSystemUuid' | 'systemUuid'>;
  readonly now: () => number;
  /** Seconds from the power-on to the enlistment of a machine added by its BMC (config lifecycle.enlistingTimeout). */
  readonly enlistingTimeout: number;
  /** The service's transition. */
  readonly act: (id: string, event: LifecycleEvent) => Machine;
  /** Queues a power action behind the machine's others. */
  readonly queuePower: (machine: Machine, action: 'on' | 'off') => void;
  /** Queues other work for its BMC in the machine's power queue, in order with its power actions. */
  readonly queueWork: (id: string, work: () => Promise<void>) => void;
  readonly armTimer: (id: string, deadline: number) => void;
}

/** The driver's warnings about the settings the operator chose (unverified TLS), on the timeline. */
export function warnAboutPower(deps: Pick<MachineAddingDeps, 'store' | 'log'>, machine: Machine, power: PowerSettingsValue): void {
  for (const warning of powerSettingsWarnings(power)) {
    deps.log.warn({ machine: machine.id }, warning);
    deps.store.events.record({ ...eventKey(machine), type: 'note', detail: `warning: ${warning}` });
  }
}

export class MachineAdding {
  constructor(private readonly deps: MachineAddingDeps) {}

  /** A machine added by its MAC, or without one by its BMC alone (addByBmc). */
  add(fields: AddFields): Machine {
    if (fields.mac === undefined) return this.addByBmc(fields);
    const mac = normaliseMac(fields.mac);
    if (!mac) throw new ConflictError(`'${fields.mac}' is not a MAC address`);
    // Probe F12: broadcast, multicast and all-zero MACs were added as machines.
    const problem = machineMacProblem(mac);
    if (problem) throw new ValidationError(problem);
    const existing = this.deps.store.machines.byMac(mac);
    if (existing) throw new ConflictError(`MAC ${mac} already belongs to machine ${existing.id} (${existing.hostname})`);
    this.assertHostnameFree(fields.hostname);
    const machine = this.deps.store.machines.create({
      bootMac: mac, power: this.deps.power.seal(fields.power), ...(fields.hostname ? { hostname: fields.hostname } : {}),
    });
    // What the machine did on the wire before the operator added it (DHCP, iPXE) joins its timeline.
    this.deps.store.events.adoptByMacs(machine.id, [mac]);
    this.deps.store.events.record({ mac, type: 'machine-added', detail: `${machine.id} by hand, power ${fields.power.type}` });
    warnAboutPower(this.deps, machine, fields.power);
    return this.deps.act(machine.id, { type: 'commission', ...(fields.skipTests ? { skipTests: true } : {}) });
  }

  /**
   * A machine added by its BMC alone (issue 14; what Ironic's inspection does): the record waits in
   * New with no boot MAC while the BMC sets the next boot to the network and powers it on. It
   * enlists as an unknown machine would, reporting its BMC's LAN address in-band; enlistment matches
   * it to this record by that address (claimByBmcAddress) and commissioning starts (onClaimed).
   * A BMC that reports the system UUID (Redfish; no in-band IPMI to read its address from) is asked
   * for it first (learnSystemUuid), and the enlistment is matched by the SMBIOS UUID, as Ironic does.
   */
  private addByBmc(fields: Omit<AddFields, 'mac'>): Machine {
    const address = bmcAddressOf(fields.power);
    if (!address) {
      throw new ValidationError(`a machine added without a MAC is found by its BMC: give power type ipmi or redfish with the BMC's address (not ${fields.power.type})`);
    }
    const { machines, events } = this.deps.store;
    const twin = machines.list().find((m) => m.bootMac === null && bmcAddressOf(m.power) === address);
    if (twin) throw new ConflictError(`machine ${twin.id} (${twin.hostname}), added by the same BMC address ${address}, has not enlisted yet: delete it or wait`);
    this.assertHostnameFree(fields.hostname);
    // Its own timer, outside the table (New runs none): a machine that never enlists is powered off
    // again with a reason (enlistingTimedOut), not left on with the record waiting forever.
    const deadline = this.deps.now() + this.deps.enlistingTimeout * 1000;
    const machine = machines.create({
      bootMac: null, power: this.deps.power.seal(fields.power), skipTests: fields.skipTests === true,
      ...(fields.hostname ? { hostname: fields.hostname } : {}),
      statusMessage: `waiting for its first network boot: powered on through its BMC at ${address}`, timer: { name: enlistingTimer, deadline },
    });
    this.deps.armTimer(machine.id, deadline);
    events.record({ ...eventKey(machine), type: 'machine-added', detail: `${machine.id} by its BMC at ${address} (power ${fields.power.type}); it is matched when it enlists` });
    warnAboutPower(this.deps, machine, fields.power);
    // Before the power-on, in the same queue: the UUID is stored before the machine can boot and enlist.
    if (this.deps.power.readsSystemUuid(machine)) this.deps.queueWork(machine.id, () => this.learnSystemUuid(machine));
    this.deps.queuePower(machine, 'on');
    return machine;
  }

  /**
   * Stores the system UUID the BMC reports on the waiting record, so the first boot's enlistment,
   * which reports the same SMBIOS UUID, claims it (machines-repo.ts enlist). Trusted as the BMC
   * address is: whoever answers at the BMC the operator named says which machine it drives. Anything
   * short of a usable UUID is a note: the machine can still be matched by the address it reports.
   */
  private async learnSystemUuid(machine: Machine): Promise<void> {
    const { machines, events } = this.deps.store;
    const note = (detail: string) => events.record({ ...eventKey(machine), type: 'note', detail });
    const fallback = 'it can be matched only by the BMC address it reports when it enlists';
    let reported: string | undefined;
    try {
      reported = await this.deps.power.systemUuid(machine);
    } catch (error) {
      note(`system UUID not read from its BMC (${(error as Error).message}): ${fallback}`);
      return;
    }
    const uuid = reported === undefined ? null : usableUuid(reported);
    if (!uuid) {
      // JSON.stringify: the BMC's text reaches the timeline, control characters escaped.
      note(`its BMC reports ${reported === undefined ? 'no system UUID' : `no usable system UUID (${JSON.stringify(reported.slice(0, 64))})`}: ${fallback}`);
      return;
    }
    const { set, owner } = machines.setWaitingUuid(machine.id, uuid);
    if (owner) note(`its BMC reports system UUID ${uuid}, which machine ${owner.id} (${owner.hostname}) already has; not stored: ${fallback}`);
    else if (set) note(`its BMC reports system UUID ${uuid}`);
    else this.deps.log.debug({ machine: machine.id, uuid }, 'system UUID read after the machine stopped waiting: not stored');
  }

  /**
   * The first boot of a machine added by its BMC has enlisted it (src/machines/enlistment.ts):
   * commissioning starts, as for a machine added by MAC. A refusal (it was locked meanwhile) leaves
   * it New, on its timeline.
   */
  enlistedByBmc(machine: Machine): Machine {
    try {
      return this.deps.act(machine.id, { type: 'commission', ...(machine.skipTests ? { skipTests: true } : {}) });
    } catch (error) {
      this.deps.store.events.record({ ...eventKey(machine), type: 'note', detail: `commissioning not started: ${(error as Error).message}` });
      return this.deps.store.machines.get(machine.id) ?? machine;
    }
  }

  /** A machine added by its BMC did not enlist in time: powered off, New with the reason, still claimable. */
  enlistingTimedOut(machine: Machine): void {
    if (machine.state !== 'New' || machine.bootMac !== null) return;
    const address = bmcAddressOf(machine.power) ?? 'its BMC';
    const seconds = this.deps.enlistingTimeout;
    const reason = `did not enlist within ${seconds} s of being powered on through its BMC at ${address}: check that it boots from `
      + 'the network on the boot network (firmware boot order, the NIC that is cabled), then add it again or power it on by hand';
    const after = this.deps.store.machines.update(machine.id, { statusMessage: reason, timer: null })!;
    this.deps.store.events.record({ ...eventKey(after), type: 'note', detail: `${reason}; powering off` });
    this.deps.queuePower(after, 'off');
  }

  private assertHostnameFree(hostname: string | undefined): void {
    if (hostname && this.deps.store.machines.get(hostname)) throw new ConflictError(`hostname ${hostname} is taken`);
  }
}
