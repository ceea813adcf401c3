// Machines: list with filters, show, add by hand, change operator fields, delete, life-cycle actions,
// power actions, tags, and the results of their script runs.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { ValidationError } from '../errors.js';
import { allowedEvents, operatorEventTypes, type LifecycleEvent, type OperatorEventType } from '../machines/lifecycle.js';
import { machineMacs, type Machine } from '../machines/model.js';
import { operatorPowerActions } from '../machines/power-control.js';
import { facts } from '../machines/service.js';
import { PowerSettingsSchema, publicPowerSettings } from '../power/index.js';
import type { ScriptRun } from '../store/index.js';
import { Closed, Hostname, Id as MachineKey, MacInput, Name, SafeText } from '../schemas.js';
import type { ApiDeps } from './app.js';

const Id = Closed({ id: MachineKey });

/**
 * What the API shows of a machine: the fields named here and nothing else (an allow-list: a field
 * added to Machine later, a run token, a BMC password, stays out until someone lists it). Power
 * settings show only the driver's non-secret fields; user-data has its own route (it may hold secrets).
 */
export function machineView(m: Machine): Record<string, unknown> {
  return {
    id: m.id, hostname: m.hostname, state: m.state, statusMessage: m.statusMessage, bootMac: m.bootMac, arch: m.arch,
    uuid: m.uuid, inventory: m.inventory, createdAt: m.createdAt, updatedAt: m.updatedAt, locked: m.locked,
    notes: m.notes, zone: m.zone, pool: m.pool, power: publicPowerSettings(m.power),
    powerState: m.powerState, powerError: m.powerError, powerCheckedAt: m.powerCheckedAt, bootPurpose: m.bootPurpose,
    runId: m.runId, skipTests: m.skipTests, commissioned: m.commissioned, beforeRescue: m.beforeRescue,
    timer: m.timer, tags: m.tags, hasUserData: m.userData !== '', actions: allowedEvents(facts(m)),
    // The deploy options; SSH public keys are not secrets, user-data (which may hold some) is not here.
    deployment: m.deployment, eraseMode: m.eraseMode,
  };
}

export const MachineFilter = Closed({
  state: Type.Optional(Type.String({ maxLength: 32 })),
  tag: Type.Optional(Type.Array(Name, { maxItems: 64 })),
  zone: Type.Optional(Name),
  pool: Type.Optional(Name),
  arch: Type.Optional(SafeText(32)),
  minCpu: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
  minMemoryMiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 30 })),
  minDiskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 30 })),
});
export type MachineFilterQuery = Static<typeof MachineFilter>;

export function matchesFilter(m: Machine, f: MachineFilterQuery): boolean {
  const inv = m.inventory;
  const diskGiB = inv ? inv.disks.reduce((sum, d) => sum + d.sizeBytes, 0) / 2 ** 30 : 0;
  return (f.state === undefined || m.state.toLowerCase() === f.state.toLowerCase())
    && (f.tag === undefined || f.tag.every((t) => m.tags.includes(t)))
    && (f.zone === undefined || m.zone === f.zone)
    && (f.pool === undefined || m.pool === f.pool)
    && (f.arch === undefined || m.arch === f.arch)
    && (f.minCpu === undefined || (inv?.cpu.count ?? 0) >= f.minCpu)
    && (f.minMemoryMiB === undefined || (inv?.memoryBytes ?? 0) / 2 ** 20 >= f.minMemoryMiB)
    && (f.minDiskGiB === undefined || diskGiB >= f.minDiskGiB);
}

const AddBody = Closed({
  // Absent: a machine added by its BMC alone (ipmi, redfish), matched when it enlists (service.addByBmc).
  mac: Type.Optional(MacInput),
  power: PowerSettingsSchema,
  hostname: Type.Optional(Hostname),
  skipTests: Type.Optional(Type.Boolean()),
});

const PatchBody = Type.Object({
  notes: Type.Optional(Type.String({ maxLength: 10000 })),
  zone: Type.Optional(Name),
  pool: Type.Optional(Name),
  power: Type.Optional(PowerSettingsSchema),
  hostname: Type.Optional(Hostname),
}, { additionalProperties: false, minProperties: 1 });

/** POST /machines/allocate: what the workload needs (src/machines/allocation.ts). */
const AllocateBody = Closed({
  name: Type.Optional(MachineKey),
  arch: Type.Optional(SafeText(32, { minLength: 1 })),
  zone: Type.Optional(Name),
  pool: Type.Optional(Name),
  tags: Type.Optional(Type.Array(Name, { maxItems: 32 })),
  cpu: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
  memoryMiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 30 })),
  diskGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 30 })),
});

const actionNames = [...operatorEventTypes, 'lock', 'unlock'] as const;
const ActionParams = Closed({
  id: MachineKey,
  action: Type.Union(actionNames.map((a) => Type.Literal(a))),
});
const PowerParams = Closed({
  id: MachineKey,
  action: Type.Union(operatorPowerActions.map((a) => Type.Literal(a))),
});
const TagParams = Closed({ id: MachineKey, tag: Name });
const ActionBody = Closed({
  skipTests: Type.Optional(Type.Boolean()),
  erase: Type.Optional(Type.Boolean()),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
});

function lifecycleEvent(action: OperatorEventType, body: Static<typeof ActionBody>): LifecycleEvent {
  switch (action) {
    case 'commission': return { type: action, ...(body.skipTests ? { skipTests: true } : {}) };
    case 'mark-broken': return { type: action, reason: body.reason ?? 'marked broken by an operator' };
    default: return { type: action };
  }
}

/** A run for the API: outputs as text (scripts print text; files stay base64). */
function runView(run: ScriptRun): Record<string, unknown> {
  return {
    ...run,
    results: run.results.map((r) => ({
      ...r, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'),
      files: Object.fromEntries(Object.entries(r.files).map(([k, v]) => [k, v.toString('base64')])),
    })),
  };
}

export const machineRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  const { service, store, tagging } = deps;

  app.get('/machines', { schema: { querystring: MachineFilter } }, async (request) => {
    const filter = request.query as MachineFilterQuery;
    return store.machines.list().filter((m) => matchesFilter(m, filter)).map(machineView);
  });

  app.get('/machines/:id', { schema: { params: Id } }, async (request) => {
    const machine = service.get((request.params as Static<typeof Id>).id);
    const macs = machineMacs(machine);
    return { ...machineView(machine), relays: macs.map((m) => store.relays.byMac(m)).filter(Boolean) };
  });

  app.post('/machines', { schema: { body: AddBody } }, async (request, reply) => {
    const body = request.body as Static<typeof AddBody>;
    const machine = service.add({
      ...(body.mac ? { mac: body.mac } : {}), power: body.power, ...(body.hostname ? { hostname: body.hostname } : {}), ...(body.skipTests ? { skipTests: true } : {}),
    });
    return reply.code(201).send(machineView(machine));
  });

  app.patch('/machines/:id', { schema: { params: Id, body: PatchBody } }, async (request) => {
    const { id } = request.params as Static<typeof Id>;
    return machineView(service.update(id, request.body as Static<typeof PatchBody>));
  });

  app.delete('/machines/:id', { schema: { params: Id } }, async (request, reply) => {
    service.delete((request.params as Static<typeof Id>).id);
    return reply.code(204).send();
  });

  // The body is optional (most actions take none), which a route body schema cannot say: checked here.
  // Before /machines/:id/...: a static path wins in the router anyway, and reads first here too.
  app.post('/machines/allocate', { schema: { body: AllocateBody } }, async (request) =>
    machineView(service.allocate(request.body as Static<typeof AllocateBody>)));

  app.post('/machines/:id/actions/:action', { schema: { params: ActionParams } }, async (request) => {
    const { id, action } = request.params as Static<typeof ActionParams>;
    const body = (request.body ?? {}) as Static<typeof ActionBody>;
    if (!Value.Check(ActionBody, body)) {
      const first = [...Value.Errors(ActionBody, body)][0];
      throw new ValidationError(`body${first?.path ?? ''} ${first?.message ?? 'is not valid'}`);
    }
    if (action === 'lock' || action === 'unlock') return machineView(service.update(id, { locked: action === 'lock' }));
    if (body.reason !== undefined && action !== 'mark-broken') throw new ValidationError(`'reason' only goes with mark-broken`);
    // With their defaults (POST /machines/:id/deploy and /release take the options): one code path.
    if (action === 'deploy') return machineView(await deps.deployments.deploy(id, {}));
    if (action === 'release') return machineView(deps.deployments.release(id, body.erase ? { erase: true } : {}));
    return machineView(service.act(id, lifecycleEvent(action, body)));
  });

  // 202: the action is queued behind the machine's power work (one in flight per machine) and the BMC
  // answers later; its outcome is on the timeline and in powerState.
  app.post('/machines/:id/power/:action', { schema: { params: PowerParams } }, async (request, reply) => {
    const { id, action } = request.params as Static<typeof PowerParams>;
    return reply.code(202).send(machineView(service.powerAction(id, action)));
  });

  app.put('/machines/:id/tags/:tag', { schema: { params: TagParams } }, async (request) => {
    const { id, tag } = request.params as { id: string; tag: string };
    tagging.add(service.get(id), tag);
    return machineView(service.get(id));
  });

  app.delete('/machines/:id/tags/:tag', { schema: { params: TagParams } }, async (request) => {
    const { id, tag } = request.params as { id: string; tag: string };
    tagging.removeFrom(service.get(id), tag);
    return machineView(service.get(id));
  });

  app.get('/machines/:id/results', {
    schema: { params: Id, querystring: Closed({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }) },
  }, async (request) => {
    const machine = service.get((request.params as Static<typeof Id>).id);
    const { limit } = request.query as { limit?: number };
    return store.scripts.runs(machine.id, limit ?? 10).map(runView);
  });
};
