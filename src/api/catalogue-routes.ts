// Scripts (commissioning and testing, uploaded by operators), tags (manual or automatic), zones and
// resource pools.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { PARAMETER_NAME, SCRIPT_NAME } from '../enlist/scripts.js';
import { ClosedRecord, Closed, Name as CatalogueName } from '../schemas.js';
import type { ApiDeps } from './app.js';

const ScriptBody = Closed({
  kind: Type.Union([Type.Literal('commissioning'), Type.Literal('testing')]),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  timeoutSeconds: Type.Integer({ minimum: 1, maximum: 86400 }),
  /** Environment variables the script sees; names are shell identifiers outside NETBOOT_ (probe F8). */
  parameters: Type.Optional(ClosedRecord(PARAMETER_NAME.source, Type.String({ maxLength: 4096 }), { maxProperties: 64 })),
  /** Machine tags the script applies to; none: every machine. */
  tags: Type.Optional(Type.Array(CatalogueName, { maxItems: 64 })),
  /** The script itself: text starting with #!. */
  content: Type.String({ minLength: 3, maxLength: 4 * 1024 * 1024 }),
});

const Name = Closed({ name: Type.String({ minLength: 1, maxLength: 64 }) });
const TagBody = Closed({
  definition: Type.Optional(Type.String({ maxLength: 2000 })),
  comment: Type.Optional(Type.String({ maxLength: 2000 })),
});
const GroupBody = Closed({ description: Type.Optional(Type.String({ maxLength: 2000 })) });

export const catalogueRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  const { store, tagging } = deps;
  const scriptView = (s: { content: Buffer }) => ({ ...s, content: s.content.toString('utf8') });

  app.get('/scripts', async () => [
    ...deps.service.runScripts({ tags: [] } as never, 'commissioning').filter((s) => s.builtin),
    ...deps.service.runScripts({ tags: [] } as never, 'testing').filter((s) => s.builtin),
  ].map((s) => ({ ...scriptView(s), builtin: true })).concat(store.scripts.list().map((s) => ({ ...scriptView(s), builtin: false }))));

  app.put('/scripts/:name', { schema: { params: Name, body: ScriptBody } }, async (request) => {
    const { name } = request.params as Static<typeof Name>;
    const body = request.body as Static<typeof ScriptBody>;
    if (!SCRIPT_NAME.test(name)) throw new ValidationError(`script name '${name}' must match ${SCRIPT_NAME.source}`);
    if (!body.content.startsWith('#!')) throw new ValidationError('a script starts with #! (the runner executes it directly)');
    if (deps.service.runScripts({ tags: [] } as never, body.kind).some((s) => s.builtin && s.name === name)) {
      throw new ConflictError(`'${name}' is a built-in script: choose another name`);
    }
    return scriptView(store.scripts.put({
      name, kind: body.kind, description: body.description ?? '', timeoutSeconds: body.timeoutSeconds,
      parameters: body.parameters ?? {}, tags: body.tags ?? [], content: Buffer.from(body.content, 'utf8'),
    }));
  });

  app.delete('/scripts/:name', { schema: { params: Name } }, async (request, reply) => {
    const { name } = request.params as Static<typeof Name>;
    if (!store.scripts.delete(name)) throw new NotFoundError(`no uploaded script '${name}'`);
    return reply.code(204).send();
  });

  app.get('/tags', async () => store.groups.tags());
  app.put('/tags/:name', { schema: { params: Name, body: TagBody } }, async (request) => {
    const { name } = request.params as Static<typeof Name>;
    const body = request.body as Static<typeof TagBody>;
    return tagging.define({ name, definition: body.definition ?? '', comment: body.comment ?? '' });
  });
  app.delete('/tags/:name', { schema: { params: Name } }, async (request, reply) => {
    tagging.remove((request.params as Static<typeof Name>).name);
    return reply.code(204).send();
  });

  for (const kind of ['zones', 'pools'] as const) {
    app.get(`/${kind}`, async () => store.groups.list(kind));
    app.put(`/${kind}/:name`, { schema: { params: Name, body: GroupBody } }, async (request) => {
      const { name } = request.params as Static<typeof Name>;
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new ValidationError(`name '${name}' must be letters, digits, . _ -`);
      store.groups.put(kind, { name, description: (request.body as Static<typeof GroupBody>).description ?? '' });
      return store.groups.list(kind).find((g) => g.name === name);
    });
    app.delete(`/${kind}/:name`, { schema: { params: Name } }, async (request, reply) => {
      const { name } = request.params as Static<typeof Name>;
      if (name === 'default') throw new ConflictError(`the default ${kind.slice(0, -1)} cannot be deleted`);
      const members = store.groups.members(kind, name);
      if (members > 0) throw new ConflictError(`${members} machine(s) are in ${kind.slice(0, -1)} '${name}': move them first`);
      if (!store.groups.delete(kind, name)) throw new NotFoundError(`no ${kind.slice(0, -1)} '${name}'`);
      return reply.code(204).send();
    });
  }
};
