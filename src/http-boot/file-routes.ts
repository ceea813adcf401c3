import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import { Closed } from '../schemas.js';
import { basename, dirname } from 'node:path';
import { normaliseMac } from '../machines/boot.js';
import { NotFoundError } from '../errors.js';
import type { HttpBootDeps } from './deps.js';

/**
 * GET|HEAD /files/<id>: boot files by opaque id (STYLE.md §5) — the client never names a path.
 * Range and HEAD come from @fastify/static (send): the debian initrd and UEFI HTTP Boot use both.
 */
export const fileRoutes: FastifyPluginAsync<HttpBootDeps> = async (app, deps) => {
  // serve: false — no directory is exposed; sendFile is only called with a path from the image store.
  await app.register(fastifyStatic, { root: '/', serve: false, decorateReply: true });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/files/:id',
    schema: {
      params: Closed({ id: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
      // Closed (STYLE.md §17): the URL is ours (ipxe-script.ts, booter.ts), `?mac=` only.
      querystring: Closed({ mac: Type.Optional(Type.String({ maxLength: 32 })) }),
    },
    handler: async (request, reply) => {
      const { id } = request.params as { id: string };
      const file = deps.files.fileById(id);
      if (!file) throw new NotFoundError(`no boot file with id ${id}`);
      if (request.method === 'GET') {
        const mac = clientMac(request, deps);
        if (mac) deps.events.record({ mac, type: file.role, detail: rangeDetail(request) });
      }
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .sendFile(basename(file.path), dirname(file.path), { dotfiles: 'allow', etag: true, lastModified: true });
    },
  });

  // UEFI HTTP Boot sends HEAD (for the size) then GET (FACTS.md); names come from a fixed map.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/loaders/:name',
    schema: { params: Closed({ name: Type.String({ maxLength: 64 }) }) },
    handler: async (request, reply) => {
      const { name } = request.params as { name: string };
      const path = Object.hasOwn(deps.loaders, name) ? deps.loaders[name] : undefined;
      if (path === undefined) throw new NotFoundError(`no loader '${name}' (known: ${Object.keys(deps.loaders).join(', ')})`);
      if (request.method === 'GET') {
        const mac = clientMac(request, deps);
        if (mac) deps.events.record({ mac, type: 'file', detail: `loader ${name}` });
      }
      return reply.header('cache-control', 'no-cache').sendFile(basename(path), dirname(path), { dotfiles: 'allow' });
    },
  });
};

function clientMac(request: FastifyRequest, deps: HttpBootDeps): string | undefined {
  const fromQuery = (request.query as { mac?: string }).mac;
  return (fromQuery && normaliseMac(fromQuery)) || deps.macOfAddress(request.ip);
}

function rangeDetail(request: FastifyRequest): string {
  const range = request.headers.range;
  return range ? `range ${range}` : '';
}
