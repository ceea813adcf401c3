// Callbacks of a machine in its commissioning, testing, installer or eraser environment (boot side, untrusted): the
// script bundle, each script's result, the end of the phase, and a ping for the network test. Every
// request carries the run's token (`Authorization: Bearer <token>`, from the kernel command line);
// a token names one machine and one run, and rotates with the next run. `/api/v1/machine/...` is
// the machine the token names; `/api/v1/machines/<id>/...` must be that machine (else 403). The run's
// rules are the domain's (src/machines/script-runs.ts): this file authenticates and translates.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError, ValidationError } from '../errors.js';
import type { BootAuth } from '../machines/boot-auth.js';
import type { Machine } from '../machines/model.js';
import type { ScriptRuns } from '../machines/script-runs.js';
import { SCRIPT_NAME, scriptKinds } from '../machines/scripts.js';
import type { ScriptKind } from '../store/index.js';
import { scriptBundle } from './bundle.js';
import { Base64, Closed, ClosedRecord } from '../schemas.js';

export interface MachineCallbackDeps {
  readonly auth: Pick<BootAuth, 'authenticate'>;
  readonly runs: ScriptRuns;
}

const Phase = Type.Union(scriptKinds.map((kind) => Type.Literal(kind)));

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

  for (const prefix of ['/api/v1/machine', '/api/v1/machines/:id']) {
    app.get(`${prefix}/ping`, async (request, reply) => {
      authenticate(request);
      return reply.type('text/plain').send('pong');
    });

    app.get(`${prefix}/scripts`, {
      schema: { querystring: Closed({ phase: Phase }) },
    }, async (request, reply) => {
      const machine = authenticate(request);
      const { phase } = request.query as { phase: ScriptKind };
      const { scripts, startedAt } = deps.runs.bundle(machine, phase);
      const tar = await scriptBundle(scripts, new Date(startedAt));
      return reply.type('application/x-tar').send(tar);
    });

    app.post(`${prefix}/results`, { bodyLimit: 64 * 1024 * 1024, schema: { body: ResultBody } }, async (request, reply) => {
      const machine = authenticate(request);
      const body = request.body as Static<typeof ResultBody>;
      // typeof: Buffer.from({ length: 1e8 }) allocates 1e8 bytes in a JS loop (probe F3), should the schema ever let one by.
      const files = Object.fromEntries(Object.entries(body.files).map(([k, v]) => {
        if (typeof v !== 'string') throw new ValidationError(`files.${k} must be base64 text`);
        return [k, Buffer.from(v, 'base64')];
      }));
      deps.runs.recordResult(machine, {
        phase: body.phase, name: body.name, exitCode: body.exitCode, timedOut: body.timedOut, durationMs: body.durationMs,
        stdout: Buffer.from(body.stdout, 'base64'), stderr: Buffer.from(body.stderr, 'base64'), files,
      });
      return reply.code(204).send();
    });

    app.post(`${prefix}/finished`, { schema: { body: FinishedBody } }, async (request, reply) => {
      const machine = authenticate(request);
      const body = request.body as Static<typeof FinishedBody>;
      const after = deps.runs.finish(machine, body.phase, body.error);
      return reply.send({ state: after.state });
    });
  }
};
