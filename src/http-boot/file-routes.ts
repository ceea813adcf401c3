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
        if (mac) deps.events.record({ mac, type: file.role, detail: rangeDetail(request.headers.range) });
      }
      // cacheControl: false, or send's own `public, max-age=0` replaces ours (probe F12): a file
      // id is a content hash, so the bytes behind it never change.
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .sendFile(basename(file.path), dirname(file.path), { dotfiles: 'allow', etag: true, lastModified: true, cacheControl: false });
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
      return reply.header('cache-control', 'no-cache').sendFile(basename(path), dirname(path), { dotfiles: 'allow', cacheControl: false });
    },
  });
};

/**
 * Whose timeline a download goes on. Where the appliance knows the leases, the lease holder's: a
 * `?mac=` naming another machine is ignored, so nobody can write to a timeline by naming its MAC
 * (probe F4). Without DHCP of our own, the `?mac=` the boot script put on the URL is all there is.
 */
function clientMac(request: FastifyRequest, deps: HttpBootDeps): string | undefined {
  const holder = deps.auth.macOf(request.ip);
  if (deps.auth.binding) return holder;
  const fromQuery = (request.query as { mac?: string }).mac;
  return (fromQuery && normaliseMac(fromQuery)) || holder;
}

/**
 * The Range header as parsed, never as sent (a client controls its length: probe F4): the first
 * range and how many more there were.
 */
export function rangeDetail(range: string | undefined): string {
  if (!range) return '';
  const specs = /^bytes=(.*)$/i.exec(range.trim())?.[1]?.split(',') ?? [];
  const first = /^\s*(\d{0,19})-(\d{0,19})\s*$/.exec(specs[0] ?? '');
  if (!first) return 'range (unparsed)';
  const more = specs.length > 1 ? ` (+${specs.length - 1} more)` : '';
  return `range ${first[1]}-${first[2]}${more}`;
}
