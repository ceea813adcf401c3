// Anonymous enlistment, the domain side: the store creates or refreshes the machine under its
// ownership rules (src/store/machines-repo.ts enlist), automatic tags follow the inventory, and the
// timeline records what happened, including refusals, on the machines an enlistment tried to change.
import type { EnlistResult, Store } from '../store/index.js';
import { EnlistRefusedError } from '../store/machines-repo.js';
import type { Inventory } from './inventory.js';
import type { Machine } from './model.js';

export interface EnlistmentDeps {
  readonly store: Pick<Store, 'machines' | 'events'>;
  /** Automatic tags follow the new inventory. */
  readonly tagging?: { refresh(machine: Machine): { added: string[]; removed: string[] } };
}

export function enlistMachine(deps: EnlistmentDeps, inventory: Inventory): EnlistResult {
  const { machines, events } = deps.store;
  let result: EnlistResult;
  try {
    result = machines.enlist(inventory, (id, macs) => events.adoptByMacs(id, macs));
  } catch (error) {
    if (error instanceof EnlistRefusedError) {
      // On the owners' timelines, so an operator sees that something on the boot network claimed them.
      for (const owner of error.owners) {
        events.record({ mac: owner.bootMac, type: 'enlist-refused', detail: `from boot MAC ${inventory.bootMac.toLowerCase()}: ${error.message}` });
      }
    }
    throw error;
  }
  const { machine, created } = result;
  deps.tagging?.refresh(machine);
  events.record({
    mac: machine.bootMac,
    type: created ? 'enlisted' : 're-enlisted',
    detail: `${machine.id} ${inventory.cpu.count} cpu, ${Math.round(inventory.memoryBytes / 2 ** 20)} MiB, ${inventory.disks.length} disk(s)`,
  });
  return result;
}
