// The operator API (ARCHITECTURE.md "Two listeners, two trust levels"): REST on its own port, bearer
// token, TypeBox schemas on every route, an OpenAPI document at /api/v1/openapi.json. Never listens:
// the composition root does (STYLE.md §13). Bound to 127.0.0.1 by default: never reachable from the
// boot network unless the operator says so.
import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { cloudInitSchemaChecker } from '../cloud-init/index.js';
import { NetbootError, UnauthorizedError } from '../errors.js';
import { appLogger } from '../http-log.js';
import { defaultHttpLimits, limitOptions, type HttpLimits } from '../http-listen.js';
import type { Catalogue } from '../machines/catalogue.js';
import type { MachineService } from '../machines/service.js';
import type { Tagging } from '../machines/tagging.js';
import type { Store } from '../store/index.js';
import { catalogueRoutes } from './catalogue-routes.js';
import { eventRoutes, type StreamLimits } from './event-routes.js';
import { imageRoutes, type ImageRoutesDeps } from './image-routes.js';
import { deployRoutes, type DeployRouteDeps } from './deploy-routes.js';
import { machineRoutes } from './machine-routes.js';
import { metricsRoutes, type MetricsRouteDeps } from './metrics.js';
import { userDataRoutes, type UserDataDeps } from './user-data-routes.js';

export interface ApiDeps {
  readonly store: Store;
  readonly service: MachineService;
  readonly tagging: Tagging;
  /** Scripts, zones and pools. */
  readonly catalogue: Catalogue;
  readonly token: string;
  readonly log: Logger;
  /** The schema check of operator user-data; without it only the YAML is checked. */
  readonly userData?: UserDataDeps;
  /** The image catalogue, for POST /images/reload; without it the route is absent. */
  readonly images?: ImageRoutesDeps['images'];
  /** When an event stream whose watcher stopped reading is dropped (defaults in event-routes.ts). */
  readonly streamLimits?: StreamLimits;
  /** Request and idle bounds (defaults: src/http-listen.ts). */
  readonly limits?: HttpLimits;
  /** What the servers count, served at GET /api/v1/metrics; without it the route is absent. */
  readonly metrics?: MetricsRouteDeps['metrics'];
  /** Deploy and release with options (src/machines/deployments.ts). */
  readonly deployments: DeployRouteDeps['deployments'];
}

export async function buildApiApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: appLogger(deps.log, 'api'),
    bodyLimit: 16 * 1024 * 1024, // scripts are uploaded in the body
    ...limitOptions(deps.limits ?? defaultHttpLimits),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'netboot operator API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.setErrorHandler((error: FastifyError | NetbootError, request, reply) => {
    const validation = (error as FastifyError).validation !== undefined;
    const status = validation ? 400 : error.statusCode ?? 500;
    const code = validation ? 'NB_ERR_REQUEST_INVALID' : error.code ?? 'NB_ERR_INTERNAL';
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code, message: error.message }, 'request refused');
    return reply.code(status).type('application/json').send({ error: code, message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NB_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` }));

  const expected = Buffer.from(deps.token);
  app.addHook('onRequest', async (request) => {
    if (request.url === '/api/v1/openapi.json') return; // the document holds no data
    const presented = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!presented) throw new UnauthorizedError('missing `Authorization: Bearer <token>` (the operator token: api.token, or <dataDir>/api-token)');
    const given = Buffer.from(presented);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError('wrong operator token');
  });

  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(machineRoutes, { prefix: '/api/v1', ...deps });
  await app.register(deployRoutes, { prefix: '/api/v1', deployments: deps.deployments });
  await app.register(userDataRoutes, { prefix: '/api/v1', ...deps, userData: deps.userData ?? { checker: cloudInitSchemaChecker('cloud-init', false) } });
  await app.register(catalogueRoutes, { prefix: '/api/v1', ...deps });
  await app.register(eventRoutes, { prefix: '/api/v1', ...deps });
  if (deps.images) await app.register(imageRoutes, { prefix: '/api/v1', images: deps.images });
  if (deps.metrics) await app.register(metricsRoutes, { prefix: '/api/v1', metrics: deps.metrics });
  return app;
}
