// Deploy and release with their options (issue 13): POST /machines/:id/deploy and /machines/:id/release.
// The bare actions (/machines/:id/actions/deploy, .../release) take the defaults through the same
// domain operation (src/machines/deployments.ts), so both spellings behave alike.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { MAX_USER_DATA_BYTES } from '../cloud-init/operator-user-data.js';
import type { Deployments } from '../machines/deployments.js';
import { eraseModes } from '../machines/model.js';
import { Closed, Hostname, Id as MachineKey, Name } from '../schemas.js';
import { machineView } from './machine-routes.js';

export interface DeployRouteDeps {
  readonly deployments: Deployments;
}

const Id = Closed({ id: MachineKey });

export const DeployBody = Closed({
  image: Type.Optional(Name),
  userData: Type.Optional(Type.String({ maxLength: MAX_USER_DATA_BYTES })),
  sshKeys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16 * 1024 }), { maxItems: 64 })),
  hostname: Type.Optional(Hostname),
  kernelArgs: Type.Optional(Type.String({ maxLength: 1024 })),
  disk: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  inMemory: Type.Optional(Type.Boolean()),
});

export const ReleaseBody = Closed({
  erase: Type.Optional(Type.Boolean()),
  eraseMode: Type.Optional(Type.Union(eraseModes.map((m) => Type.Literal(m)))),
});

export const deployRoutes: FastifyPluginAsync<DeployRouteDeps> = async (app, deps) => {
  app.post('/machines/:id/deploy', { schema: { params: Id, body: Type.Optional(DeployBody) } }, async (request) => {
    const { id } = request.params as Static<typeof Id>;
    return machineView(await deps.deployments.deploy(id, (request.body ?? {}) as Static<typeof DeployBody>));
  });

  app.post('/machines/:id/release', { schema: { params: Id, body: Type.Optional(ReleaseBody) } }, async (request) => {
    const { id } = request.params as Static<typeof Id>;
    return machineView(deps.deployments.release(id, (request.body ?? {}) as Static<typeof ReleaseBody>));
  });
};
