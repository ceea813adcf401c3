// Enlistment callback: the micro image's agent POSTs the hardware inventory of a machine that booted
// with purpose `enlist`. Unknown machines enlist anonymously, as in MAAS: that creates a machine, or refreshes
// one that is still New and unlocked, and nothing else (src/machines/enlistment.ts); per-machine tokens
// guard the commissioning callbacks that come with the life-cycle.
import type { FastifyPluginAsync } from 'fastify';
import { ValidationError } from '../errors.js';
import { enlistMachine, type EnlistmentDeps } from '../machines/enlistment.js';
import { InventorySchema, inventoryProblem, type Inventory } from '../machines/inventory.js';

export type EnlistDeps = EnlistmentDeps;

export const enlistRoutes: FastifyPluginAsync<EnlistDeps> = async (app, deps) => {
  app.post('/enlist/v1/machines', { schema: { body: InventorySchema } }, async (request, reply) => {
    const inventory = request.body as Inventory;
    const problem = inventoryProblem(inventory);
    if (problem) throw new ValidationError(problem);
    const { machine, created } = enlistMachine(deps, inventory);
    request.log.info({ mac: machine.bootMac, machine: machine.id, created }, created ? 'machine enlisted' : 'machine re-enlisted');
    return reply.code(created ? 201 : 200).send({ id: machine.id, hostname: machine.hostname, state: machine.state, created });
  });
};
