// Anonymous enlistment, the domain side: the store creates or refreshes the machine under its
// ownership rules (src/store/machines-repo.ts enlist), automatic tags follow the inventory, and the
// timeline records what happened, including refusals, on the machines an enlistment tried to change.
import type { EnlistResult, Store } from '../store/index.js';
import { EnlistRefusedError } from '../store/machines-repo.js';
import type { Inventory } from './inventory.js';
import type { Machine } from './model.js';
import { bmcAddressOf } from '../power/registry.js';
import { eventKey } from './boot.js';

export interface EnlistmentDeps {
  readonly store: Pick<Store, 'machines' | 'events'>;
  /** Automatic tags follow the new inventory. */
  readonly tagging?: { refresh(machine: Machine): { added: string[]; removed: string[] } };
  /**
   * A machine added by its BMC alone enlisted (matched by the BMC address it reports, or by the
   * system UUID its BMC reported when it was added): start what its adding asked for
   * (commissioning) and return it as it is then.
   */
  readonly onClaimed?: (machine: Machine) => Machine;
}

/**
 * Which waiting machine (added by its BMC, no boot MAC yet) reports this BMC address in-band: the
 * one whose power settings reach that address. Two waiting machines with the same address (one BMC
 * added twice) are ambiguous: none is claimed, and the machine enlists as a new one.
 */
export function claimByBmcAddress(waiting: readonly Machine[], inventory: Inventory): Machine | undefined {
  const address = inventory.bmc?.address;
  if (!address) return undefined;
  const matches = waiting.filter((m) => bmcAddressOf(m.power) === address);
  return matches.length === 1 ? matches[0] : undefined;
}

export function enlistMachine(deps: EnlistmentDeps, inventory: Inventory): EnlistResult {
  const { machines, events } = deps.store;
  let result: EnlistResult;
  try {
    result = machines.enlist(inventory, (id, macs) => events.adoptByMacs(id, macs), claimByBmcAddress);
  } catch (error) {
    if (error instanceof EnlistRefusedError) {
      // On the owners' timelines, so an operator sees that something on the boot network claimed them.
      for (const owner of error.owners) {
        events.record({ ...eventKey(owner), type: 'enlist-refused', detail: `from boot MAC ${inventory.bootMac.toLowerCase()}: ${error.message}` });
      }
    }
    throw error;
  }
  const { machine, created, claimed, claimedBy, bmcUuidReplaced } = result;
  deps.tagging?.refresh(machine);
  const summary = `${machine.id} ${inventory.cpu.count} cpu, ${Math.round(inventory.memoryBytes / 2 ** 20)} MiB, ${inventory.disks.length} disk(s)`;
  events.record({
    ...eventKey(machine),
    type: created || claimed ? 'enlisted' : 're-enlisted',
    detail: claimed ? `${summary}; boot MAC ${machine.bootMac}, ${claimedBy === 'uuid'
      ? `matched by its system UUID ${machine.uuid}, as its BMC reported`
      : `matched by its BMC at ${inventory.bmc?.address}`}${bmcUuidReplaced
      ? `; it reports system UUID ${machine.uuid}, its BMC reported ${bmcUuidReplaced}: the machine's kept` : ''}` : summary,
  });
  if (claimed && deps.onClaimed) return { ...result, machine: deps.onClaimed(machine) };
  return result;
}
