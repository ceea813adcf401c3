// Enlistment callback: the micro image's agent POSTs the hardware inventory of a machine that booted
// with purpose `enlist`. Unknown machines enlist anonymously, as in MAAS; per-machine tokens guard the
// commissioning callbacks that come with the life-cycle.
import type { FastifyPluginAsync } from 'fastify';
import type { EventSink } from '../machines/boot.js';
import { ValidationError } from '../errors.js';
import { InventorySchema, inventoryProblem, type Inventory } from '../machines/inventory.js';
import type { Machine } from '../machines/model.js';

export interface EnlistDeps {
  /** Automatic tags follow the new inventory. */
  readonly tagging?: { refresh(machine: Machine): { added: string[]; removed: string[] } };
  readonly machines: { enlist(inventory: Inventory, onAdopt: (id: string, macs: string[]) => void): { machine: Machine; created: boolean } };
  readonly events: EventSink & { adoptByMacs(machineId: string, macs: readonly string[]): void };
}

export const enlistRoutes: FastifyPluginAsync<EnlistDeps> = async (app, deps) => {
  app.post('/enlist/v1/machines', { schema: { body: InventorySchema } }, async (request, reply) => {
    const inventory = request.body as Inventory;
    const problem = inventoryProblem(inventory);
    if (problem) throw new ValidationError(problem);
    const { machine, created } = deps.machines.enlist(inventory, (id, macs) => deps.events.adoptByMacs(id, macs));
    deps.tagging?.refresh(machine);
    deps.events.record({
      mac: machine.bootMac,
      type: created ? 'enlisted' : 're-enlisted',
      detail: `${machine.id} ${inventory.cpu.count} cpu, ${Math.round(inventory.memoryBytes / 2 ** 20)} MiB, ${inventory.disks.length} disk(s)`,
    });
    request.log.info({ mac: machine.bootMac, machine: machine.id, created }, created ? 'machine enlisted' : 'machine re-enlisted');
    return reply.code(created ? 201 : 200).send({ id: machine.id, hostname: machine.hostname, state: machine.state, created });
  });
};
