// The operator's user-data of a machine: GET shows it, PUT replaces it, DELETE clears it. It is
// checked before it is stored (YAML, then cloud-init's own schema where the host has cloud-init), so
// a bad document is refused with the reason and the stored one stays; it is merged into our user-data
// at the machine's next cloud-init boot (src/cloud-init/render.ts renderUserData).
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { MAX_USER_DATA_BYTES, parseOperatorUserData } from '../cloud-init/operator-user-data.js';
import type { RenderCache, SchemaChecker } from '../cloud-init/index.js';
import { Closed, Id as MachineKey } from '../schemas.js';
import type { ApiDeps } from './app.js';

export interface UserDataDeps {
  readonly checker: SchemaChecker;
  readonly cache?: RenderCache;
}

const Id = Closed({ id: MachineKey });

export const userDataRoutes: FastifyPluginAsync<ApiDeps & { userData: UserDataDeps }> = async (app, deps) => {
  // The document is the body, as text: `curl --data-binary @user-data.yaml -H 'Content-Type: text/plain'`.
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/cloud-config', 'text/x-shellscript']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_USER_DATA_BYTES + 1024 }, (_req, body, done) => done(null, body));
  }
  const { service, userData } = deps;

  app.get('/machines/:id/user-data', { schema: { params: Id } }, async (request, reply) => {
    const machine = service.get((request.params as { id: string }).id);
    return reply.type('text/plain; charset=utf-8').send(machine.userData);
  });

  const replaceUserData = async (key: string, text: string) => {
    // The lock is the domain's to check (MachineService.setUserData), before and after the schema check.
    const parsed = parseOperatorUserData(text);
    const value = parsed.kind === 'none' ? '' : parsed.text;
    const check = parsed.kind === 'cloud-config' ? () => userData.checker.check(parsed.text) : undefined;
    const updated = await service.setUserData(key, value, `${parsed.kind}, ${Buffer.byteLength(value)} bytes`, check);
    userData.cache?.invalidate(updated.id);
    return { id: updated.id, kind: parsed.kind, bytes: Buffer.byteLength(value), schemaChecked: parsed.kind === 'cloud-config' && userData.checker.available };
  };

  app.put('/machines/:id/user-data', {
    schema: { params: Id, body: Type.String({ maxLength: MAX_USER_DATA_BYTES }) },
  }, async (request) => replaceUserData((request.params as { id: string }).id, request.body as string));

  app.delete('/machines/:id/user-data', { schema: { params: Id } }, async (request) => replaceUserData((request.params as { id: string }).id, ''));
};
