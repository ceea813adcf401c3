// Callbacks of a machine in its commissioning or testing environment (boot side, untrusted): the
// script bundle, each script's result, the end of the phase, and a ping for the network test. Every
// request carries the run's token (`Authorization: Bearer <token>`, from the kernel command line);
// a token names one machine and one run, and rotates with the next run. `/api/v1/machine/...` is
// the machine the token names; `/api/v1/machines/<id>/...` must be that machine (else 403).
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ConflictError, ForbiddenError, UnauthorizedError, ValidationError } from '../errors.js';
import { InventorySchema, inventoryProblem } from '../machines/inventory.js';
import type { BootAuth } from '../machines/boot-auth.js';
import type { Machine } from '../machines/model.js';
import type { MachineService } from '../machines/service.js';
import type { Tagging } from '../machines/tagging.js';
import type { Store } from '../store/index.js';
import { scriptBundle } from './bundle.js';
import { checkResultSize, outputTail } from './result-limits.js';
import { SCRIPT_NAME } from './scripts.js';
import { Base64, Closed, ClosedRecord } from '../schemas.js';

export interface MachineCallbackDeps {
  readonly store: Store;
  readonly auth: Pick<BootAuth, 'authenticate'>;
  readonly service: MachineService;
  readonly tagging: Tagging;
}

const Phase = Type.Union([Type.Literal('commissioning'), Type.Literal('testing')]);

const ResultBody = Closed({
  phase: Phase,
  name: Type.String({ pattern: SCRIPT_NAME.source }),
  exitCode: Type.Integer({ minimum: 0, maximum: 255 }),
  timedOut: Type.Boolean(),
  durationMs: Type.Integer({ minimum: 0, maximum: 7 * 86400 * 1000 }),
  stdout: Base64,
  stderr: Base64,
  // Closed (probe F3): a key outside the pattern, with any value, used to pass unchecked.
  files: ClosedRecord('^[A-Za-z0-9._-]{1,128}$', Base64, { default: {}, maxProperties: 64 }),
});

const FinishedBody = Closed({
  phase: Phase,
  error: Type.Optional(Type.String({ maxLength: 2000 })),
});

/** Which phase a machine's current run is in, or undefined when it is not running scripts. */
function runningPhase(machine: Machine): 'commissioning' | 'testing' | undefined {
  if (machine.state === 'Commissioning') return 'commissioning';
  if (machine.state === 'Testing') return 'testing';
  return undefined;
}

export const machineCallbackRoutes: FastifyPluginAsync<MachineCallbackDeps> = async (app, deps) => {
  const authenticate = (request: FastifyRequest): Machine => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw new UnauthorizedError('missing `Authorization: Bearer <token>`: the token is on the kernel command line (netboot.token)');
    // Token and address together (src/machines/boot-auth.ts): a token read off the wire or out of a
    // boot script is no use from another host.
    const machine = deps.auth.authenticate(token, request.ip, 'the callback API');
    const { id } = request.params as { id?: string };
    if (id !== undefined && id !== machine.id) throw new ForbiddenError(`this token belongs to machine ${machine.id}, not ${id}`);
    return machine;
  };
  /** The machine's run must be in this phase: a late callback from an earlier run changes nothing. */
  const inPhase = (machine: Machine, phase: string): void => {
    const current = runningPhase(machine);
    if (current !== phase) throw new ConflictError(`machine ${machine.id} is ${machine.state}, not running ${phase} scripts`);
  };

  for (const prefix of ['/api/v1/machine', '/api/v1/machines/:id']) {
    app.get(`${prefix}/ping`, async (request, reply) => {
      authenticate(request);
      return reply.type('text/plain').send('pong');
    });

    app.get(`${prefix}/scripts`, {
      schema: { querystring: Closed({ phase: Phase }) },
    }, async (request, reply) => {
      const machine = authenticate(request);
      const { phase } = request.query as { phase: 'commissioning' | 'testing' };
      inPhase(machine, phase);
      const run = machine.runId === null ? undefined : deps.store.scripts.run(machine.runId);
      // The run fixed its script list when it started; a script added since waits for the next run.
      const scripts = deps.service.runScripts(machine, phase).filter((s) => !run || run.scripts.includes(s.name));
      deps.store.events.record({ mac: machine.bootMac, type: 'scripts', detail: `${phase}: ${scripts.map((s) => s.name).join(', ') || 'none'}` });
      const tar = await scriptBundle(scripts, new Date(run?.startedAt ?? 0));
      return reply.type('application/x-tar').send(tar);
    });

    app.post(`${prefix}/results`, { bodyLimit: 64 * 1024 * 1024, schema: { body: ResultBody } }, async (request, reply) => {
      const machine = authenticate(request);
      const body = request.body as Static<typeof ResultBody>;
      inPhase(machine, body.phase);
      const run = deps.store.scripts.run(machine.runId!);
      if (!run?.scripts.includes(body.name)) throw new ConflictError(`script '${body.name}' is not part of run ${machine.runId}`);
      // typeof: Buffer.from({ length: 1e8 }) allocates 1e8 bytes in a JS loop (probe F3), should the schema ever let one by.
      const files = Object.fromEntries(Object.entries(body.files).map(([k, v]) => {
        if (typeof v !== 'string') throw new ValidationError(`files.${k} must be base64 text`);
        return [k, Buffer.from(v, 'base64')];
      }));
      const stdout = outputTail(Buffer.from(body.stdout, 'base64'));
      const stderr = outputTail(Buffer.from(body.stderr, 'base64'));
      const kept = stdout.length + stderr.length + Object.values(files).reduce((sum, f) => sum + Math.ceil(f.length / 3) * 4, 0);
      checkResultSize(files, kept, deps.store.scripts.storedBytes(run.id, body.name));
      deps.store.scripts.addResult(run.id, {
        name: body.name, exitCode: body.exitCode, timedOut: body.timedOut, durationMs: body.durationMs, stdout, stderr, files,
      });
      const outcome = body.timedOut ? 'timed out' : `exit ${body.exitCode}`;
      deps.store.events.record({ mac: machine.bootMac, type: 'script-result', detail: `${body.name} ${outcome} in ${body.durationMs} ms` });
      if (body.phase === 'commissioning' && files['inventory.json']) ingestInventory(deps, machine, files['inventory.json']);
      return reply.code(204).send();
    });

    app.post(`${prefix}/finished`, { schema: { body: FinishedBody } }, async (request, reply) => {
      const machine = authenticate(request);
      const body = request.body as Static<typeof FinishedBody>;
      inPhase(machine, body.phase);
      const failure = body.error ?? runFailure(deps.store, machine);
      const after = deps.service.act(machine.id, failure ? { type: 'phase-failed', reason: failure } : { type: 'phase-passed' });
      return reply.send({ state: after.state });
    });
  }
};

/** Why the run failed, from its results: the first script that failed, timed out or never reported. */
function runFailure(store: Store, machine: Machine): string | undefined {
  const run = machine.runId === null ? undefined : store.scripts.run(machine.runId);
  if (!run) return 'no script run is recorded for this machine';
  for (const name of run.scripts) {
    const result = run.results.find((r) => r.name === name);
    if (!result) return `script ${name} reported no result`;
    if (result.timedOut) return `script ${name} timed out after ${result.durationMs} ms`;
    if (result.exitCode !== 0) {
      const lastLine = result.stderr.toString('utf8').trim().split('\n').at(-1) ?? '';
      return `script ${name} exited ${result.exitCode}${lastLine ? `: ${lastLine.slice(0, 200)}` : ''}`;
    }
  }
  return undefined;
}

/** The inventory script's output becomes the machine's inventory; automatic tags follow it. */
function ingestInventory(deps: MachineCallbackDeps, machine: Machine, bytes: Buffer): void {
  let inventory: unknown;
  try {
    inventory = JSON.parse(bytes.toString('utf8'));
  } catch {
    deps.store.events.record({ mac: machine.bootMac, type: 'inventory', detail: 'inventory.json is not JSON: kept the previous inventory' });
    return;
  }
  if (!Value.Check(InventorySchema, inventory)) {
    const first = [...Value.Errors(InventorySchema, inventory)][0];
    deps.store.events.record({ mac: machine.bootMac, type: 'inventory', detail: `inventory.json rejected (${first?.path} ${first?.message}): kept the previous inventory` });
    return;
  }
  const problem = inventoryProblem(inventory);
  if (problem) {
    deps.store.events.record({ mac: machine.bootMac, type: 'inventory', detail: `inventory.json rejected (${problem}): kept the previous inventory` });
    return;
  }
  const updated = deps.store.machines.setInventory(machine.id, inventory);
  if (!updated) return;
  // NICs the machine was not known by until now (added by hand with its boot MAC) bring their events.
  deps.store.events.adoptByMacs(machine.id, inventory.nics.map((n) => n.mac.toLowerCase()));
  const { added, removed } = deps.tagging.refresh(updated);
  deps.store.events.record({
    mac: machine.bootMac, type: 'inventory',
    detail: `${inventory.cpu.count} cpu, ${Math.round(inventory.memoryBytes / 2 ** 20)} MiB, ${inventory.disks.length} disk(s)`
      + `${added.length ? `; tagged ${added.join(', ')}` : ''}${removed.length ? `; untagged ${removed.join(', ')}` : ''}`,
  });
}
