// What the appliance does with the BMC that commissioning set up (issue 14, MAAS's behaviour): from
// then on it powers the machine itself, through IPMI with the user 30-bmc-config created. The
// operator's own driver choice stands where it is not IPMI or manual (a lab VM on QMP, a Redfish BMC,
// a PDU webhook): the finding is noted and nothing changes. Nor do settings the appliance cannot use:
// the BMC may sit on a management network it does not reach, and a machine whose power confirmation
// then fails would fail its phase, where the settings it had kept working.
import { ipmiSettingsFromCommissioning } from '../power/ipmi.js';
import type { BmcCredentials } from './bmc-credentials.js';
import type { Machine, PowerSettingsValue } from './model.js';
import type { MachineService } from './service.js';
import type { EventSink } from './boot.js';
import { eventKey } from './boot.js';

export interface BmcAdoptionDeps {
  readonly service: Pick<MachineService, 'get' | 'update' | 'probePower'>;
  readonly events: EventSink;
}

/** Applies commissioning's BMC findings to the machine's power settings, or says on its timeline why not. */
export async function adoptBmcCredentials(deps: BmcAdoptionDeps, reported: Machine, found: BmcCredentials): Promise<void> {
  const machine = deps.service.get(reported.id); // as it is now: the operator may have changed it meanwhile
  const unchanged = (why: string) => deps.events.record({ ...eventKey(machine), type: 'note', detail: `power settings unchanged: ${why}` });
  if (!found.created) return unchanged('no BMC user was created (config bmc.createUser is false)');
  if (found.address === '0.0.0.0') return unchanged('the BMC has no LAN address to reach it at');
  if (machine.locked) return unchanged('the machine is locked');
  const current = machine.power;
  if (current.type !== 'ipmi' && current.type !== 'manual') return unchanged(`the machine is powered through ${current.type}, which the operator chose`);
  // An ipmi machine keeps the operator's address, port and session settings, which reached this BMC,
  // and changes only its user, to the one made for us (the operator's own account stays as it was).
  const candidate: PowerSettingsValue = current.type === 'ipmi'
    ? { ...current, user: found.user, password: found.password }
    : { ...ipmiSettingsFromCommissioning(found) };
  try {
    await deps.service.probePower(candidate);
  } catch (error) {
    const reason = (error as Error).message.split(found.password).join('<secret>');
    return unchanged(`the BMC did not answer the new user at ${String(candidate.address)} (${reason})`);
  }
  // Read again: the probe took a while, and a change the operator made meanwhile wins.
  if (JSON.stringify(deps.service.get(machine.id).power) !== JSON.stringify(current)) return unchanged('the operator changed them meanwhile');
  deps.service.update(machine.id, { power: candidate });
}
