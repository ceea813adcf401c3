// What the appliance does with the BMC that commissioning set up (issue 14, MAAS's behaviour): from
// then on it powers the machine itself, through IPMI with the user 30-bmc-config created. The
// operator's own driver choice stands where it is not IPMI or manual (a lab VM on QMP, a Redfish BMC,
// a PDU webhook): the finding is noted and nothing changes.
import { ipmiSettingsFromCommissioning } from '../power/ipmi.js';
import type { BmcCredentials } from './bmc-credentials.js';
import type { Machine } from './model.js';
import type { MachineService } from './service.js';
import type { EventSink } from './boot.js';

export interface BmcAdoptionDeps {
  readonly service: Pick<MachineService, 'get' | 'update'>;
  readonly events: EventSink;
}

/** Applies commissioning's BMC findings to the machine's power settings, or says on its timeline why not. */
export function adoptBmcCredentials(deps: BmcAdoptionDeps, reported: Machine, found: BmcCredentials): void {
  const machine = deps.service.get(reported.id); // as it is now: the operator may have changed it meanwhile
  const unchanged = (why: string) => deps.events.record({ mac: machine.bootMac, type: 'note', detail: `power settings unchanged: ${why}` });
  if (!found.created) return unchanged('no BMC user was created (config bmc.createUser is false)');
  if (found.address === '0.0.0.0') return unchanged('the BMC has no LAN address to reach it at');
  if (machine.locked) return unchanged('the machine is locked');
  const current = machine.power;
  if (current.type === 'ipmi') {
    // The operator's address, port and session settings reached this BMC: only the user changes, to
    // the one made for us (the operator's own credentials stay as they were on the BMC).
    deps.service.update(machine.id, { power: { ...current, user: found.user, password: found.password } });
    return;
  }
  if (current.type !== 'manual') return unchanged(`the machine is powered through ${current.type}, which the operator chose`);
  deps.service.update(machine.id, { power: { ...ipmiSettingsFromCommissioning(found) } });
}
