// Scripts (commissioning and testing, uploaded by operators), tags (manual or automatic), zones and
// resource pools: HTTP to the domain's Catalogue and Tagging (src/machines/catalogue.ts, tagging.ts).
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { PARAMETER_NAME } from '../machines/scripts.js';
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
  const { catalogue, store, tagging } = deps;
  const scriptView = <S extends { content: Buffer }>(s: S) => ({ ...s, content: s.content.toString('utf8') });

  app.get('/scripts', async () => catalogue.scripts().map(scriptView));

  app.put('/scripts/:name', { schema: { params: Name, body: ScriptBody } }, async (request) => {
    const { name } = request.params as Static<typeof Name>;
    const body = request.body as Static<typeof ScriptBody>;
    return scriptView(catalogue.putScript(name, {
      kind: body.kind, description: body.description ?? '', timeoutSeconds: body.timeoutSeconds,
      parameters: body.parameters ?? {}, tags: body.tags ?? [], content: Buffer.from(body.content, 'utf8'),
    }));
  });

  app.delete('/scripts/:name', { schema: { params: Name } }, async (request, reply) => {
    catalogue.deleteScript((request.params as Static<typeof Name>).name);
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
    app.get(`/${kind}`, async () => catalogue.groups(kind));
    app.put(`/${kind}/:name`, { schema: { params: Name, body: GroupBody } }, async (request) => {
      const { name } = request.params as Static<typeof Name>;
      return catalogue.putGroup(kind, name, (request.body as Static<typeof GroupBody>).description ?? '');
    });
    app.delete(`/${kind}/:name`, { schema: { params: Name } }, async (request, reply) => {
      catalogue.deleteGroup(kind, (request.params as Static<typeof Name>).name);
      return reply.code(204).send();
    });
  }
};
