import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { NetbootError } from '../errors.js';
import { appLogger } from '../http-log.js';
import { defaultHttpLimits, limitOptions } from '../http-listen.js';
import { durationBuckets, noMetrics } from '../metrics.js';
import type { HttpBootDeps } from './deps.js';
import { fileRoutes } from './file-routes.js';
import { ipxeRoutes } from './ipxe-routes.js';

/**
 * The boot-side HTTP app (untrusted machines). Never listens: main does (STYLE.md §13).
 * Other boot-side plugins (enlist callbacks) are registered by the composition root.
 */
export function buildBootApp(deps: HttpBootDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: appLogger(deps.log, 'http-boot'),
    // Firmware and initrds build URLs by concatenation; `http://host//files/x` must still work.
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    bodyLimit: 1024 * 1024,
    ...limitOptions(deps.limits ?? defaultHttpLimits),
    // Bodies are checked, not repaired: an unknown field is an error the sender should hear about
    // (fastify's default would silently strip it).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
  });
  app.setErrorHandler((error: FastifyError | NetbootError, request, reply) => {
    const status = error.statusCode ?? 500;
    const code = error.code ?? 'NB_ERR_INTERNAL';
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code, message: error.message }, 'request refused');
    return reply.code(status).type('application/json').send({ error: code, message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NB_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url}` }));
  // By route pattern, never by URL: a URL can carry a run token (/cloud-init/<token>/) and is the
  // client's to vary, which would make a time series per request.
  const metrics = deps.metrics ?? noMetrics;
  const requests = metrics.counter('netboot_http_requests_total', 'Boot-side HTTP requests answered, by route, method and status', ['route', 'method', 'status']);
  const seconds = metrics.histogram('netboot_http_request_duration_seconds', 'Boot-side HTTP response times, by route', ['route'], durationBuckets);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: reply.statusCode });
    seconds.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get('/healthz', async () => ({ ok: true }));
  app.register(ipxeRoutes, deps);
  app.register(fileRoutes, deps);
  return app;
}
