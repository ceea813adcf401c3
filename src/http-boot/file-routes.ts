import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import { ReadStream } from 'node:fs';
import { Closed } from '../schemas.js';
import { basename, dirname } from 'node:path';
import { normaliseMac, type EventType } from '../machines/boot.js';
import { NotFoundError } from '../errors.js';
import { durationBuckets, noMetrics } from '../metrics.js';
import type { HttpBootDeps, ServedFile } from './deps.js';
import { SendfileBody, sendfileBody } from './sendfile-body.js';

/** A GET being answered, recorded on the machine's timeline when its response ends. */
interface Download {
  readonly mac: string | undefined;
  readonly type: EventType;
  readonly role: string;
  readonly detail: string;
  readonly data: Readonly<Record<string, number | string>>;
  readonly start: number;
  /** The body once send has chosen it (none for a 304 or an error): its stream, or sendfile's. */
  body?: ReadStream | SendfileBody;
}

/**
 * GET|HEAD /files/<id>: boot files by opaque id (STYLE.md §5) — the client never names a path.
 * Range and HEAD come from @fastify/static (send): the debian initrd and UEFI HTTP Boot use both.
 * The body goes out by sendfile(2) where the connection allows (sendfile-body.ts), else send's stream.
 * A GET goes on the timeline when its response ends (code review 2026-12 item 9), with the octets
 * sent, how long it took, and whether it completed or the client went away.
 */
export const fileRoutes: FastifyPluginAsync<HttpBootDeps> = async (app, deps) => {
  // serve: false — no directory is exposed; sendFile is only called with a path from the image store.
  await app.register(fastifyStatic, { root: '/', serve: false, decorateReply: true });
  const metrics = deps.metrics ?? noMetrics;
  const downloadBytes = metrics.counter('netboot_http_download_bytes_total', 'Body octets of boot file downloads passed to the connection', ['role', 'outcome']);
  const downloadsEnded = metrics.counter('netboot_http_downloads_total', 'Boot file downloads (GET) ended, by role and whether they completed', ['role', 'outcome']);
  const downloadSeconds = metrics.histogram('netboot_http_download_duration_seconds', 'Time from request to the end of a boot file download', ['role'], durationBuckets);
  const downloads = new WeakMap<FastifyRequest, Download>();

  /** Starts following a GET: the timeline entry and the counters are written when its response ends. */
  const follow = (request: FastifyRequest, reply: FastifyReply, start: Omit<Download, 'start' | 'body'>): void => {
    const download: Download = { ...start, start: Date.now() };
    downloads.set(request, download);
    const res = reply.raw;
    let ended = false;
    // 'finish': the last octet is handed to the connection. 'close' without it: the client went away
    // (or the stream failed) first. Recorded at 'finish' when there is one, so a reader right after
    // the response (inject, the next request) sees the event.
    const end = (completed: boolean): void => {
      if (ended) return;
      ended = true;
      const outcome = completed ? 'completed' : 'aborted';
      const ms = Date.now() - download.start;
      const bytes = bodyOctets(download.body);
      downloadBytes.inc({ role: download.role, outcome }, bytes);
      downloadsEnded.inc({ role: download.role, outcome });
      downloadSeconds.observe({ role: download.role }, ms / 1000);
      if (!download.mac) return;
      deps.events.record({
        mac: download.mac, type: download.type, detail: completed ? download.detail : `${download.detail} (aborted)`.trimStart(),
        data: { ...download.data, bytes, ms, start: download.start, outcome, status: res.statusCode },
      });
    };
    res.once('finish', () => end(true));
    res.once('close', () => end(res.writableFinished));
  };

  // The body is the file's read stream (send), or sendfile moving the same octets where the
  // connection allows (sendfile-body.ts); it is remembered, not wrapped (see bodyOctets).
  app.addHook('onSend', async (request, reply, payload) => {
    if (!(payload instanceof ReadStream)) return payload;
    const body = sendfileBody(payload, reply.raw, reply.getHeader('content-length')) ?? payload;
    const download = downloads.get(request);
    if (download) download.body = body;
    return body;
  });

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
        const range = parseRange(request.headers.range);
        follow(request, reply, { mac: clientMac(request, deps), ...timelineEntry(file.role, range) });
      }
      // cacheControl: false, or send's own `public, max-age=0` replaces ours (probe F12): a file
      // id is a content hash, so the bytes behind it never change.
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .sendFile(basename(file.path), dirname(file.path), { ...streamOptions, dotfiles: 'allow', etag: true, lastModified: true, cacheControl: false });
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
        follow(request, reply, { mac: clientMac(request, deps), type: 'file', role: 'loader', detail: `loader ${name}`, data: { loader: name } });
      }
      return reply.header('cache-control', 'no-cache').sendFile(basename(path), dirname(path), { ...streamOptions, dotfiles: 'allow', cacheControl: false });
    },
  });
};

/**
 * send reads the file in chunks of highWaterMark, each a read on the thread pool and a write to the
 * socket. 64 KiB (fs.createReadStream's default), said here because it was measured: issue #15 saw
 * 1 MiB reads do better with plain node:http, but here (bench/http, README) 1 MiB tied on a quiet
 * run, did worse in every row of interleaved runs under load (each chunk a fresh 1 MiB buffer:
 * allocation, page faults, GC) and doubled the resident memory at 64 connections.
 */
const streamOptions = { highWaterMark: 64 * 1024 } as const;

/**
 * The octets of the file handed to the connection: all of them for a completed download; for an
 * aborted one, what was read minus what the stream still held (an upper bound of what the client
 * got: what the kernel still held when the connection went is not known here).
 */
function bodyOctets(body: ReadStream | SendfileBody | undefined): number {
  if (body instanceof SendfileBody) return body.octets;
  return body ? body.bytesRead - body.readableLength : 0;
}

/**
 * A boot file's download is its own event type (kernel, initrd, rootfs); a disk image's files (the
 * installer's root tarball, localboot.efi) are a `file` event that names the role.
 */
function timelineEntry(role: ServedFile['role'], range: ParsedRange): Pick<Download, 'type' | 'role' | 'detail' | 'data'> {
  if (role === 'root' || role === 'localboot') {
    return { type: 'file', role, detail: `${role} ${rangeDetail(range)}`.trimEnd(), data: { ...rangeData(range), role } };
  }
  return { type: role, role, detail: rangeDetail(range), data: rangeData(range) };
}

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

/** A Range header as parsed: the first range's bounds as sent (either may be empty) and how many there were. */
export type ParsedRange = { readonly first: string; readonly last: string; readonly count: number } | 'unparsed' | undefined;

/** The Range header as parsed, never as sent (a client controls its length: probe F4). */
export function parseRange(range: string | undefined): ParsedRange {
  if (!range) return undefined;
  const specs = /^bytes=(.*)$/i.exec(range.trim())?.[1]?.split(',') ?? [];
  const first = /^\s*(\d{0,19})-(\d{0,19})\s*$/.exec(specs[0] ?? '');
  if (!first) return 'unparsed';
  return { first: first[1]!, last: first[2]!, count: specs.length };
}

/** The timeline's text for a Range header: the first range and how many more there were. */
export function rangeDetail(parsed: ParsedRange): string {
  if (parsed === undefined) return '';
  if (parsed === 'unparsed') return 'range (unparsed)';
  const more = parsed.count > 1 ? ` (+${parsed.count - 1} more)` : '';
  return `range ${parsed.first}-${parsed.last}${more}`;
}

/** The same as event data: numbers where the bounds are given (up to 19 digits: kept as text past 2^53). */
function rangeData(range: ParsedRange): Record<string, number | string> {
  if (range === undefined) return {};
  if (range === 'unparsed') return { range: 'unparsed' };
  const bound = (digits: string): number | string => (Number.isSafeInteger(Number(digits)) ? Number(digits) : digits);
  return {
    ...(range.first === '' ? {} : { rangeFirst: bound(range.first) }),
    ...(range.last === '' ? {} : { rangeLast: bound(range.last) }),
    ranges: range.count,
  };
}
