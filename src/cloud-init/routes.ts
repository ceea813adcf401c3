// NoCloud seed and cloud-init's callbacks on the boot side (untrusted). The seed URL on the kernel
// command line is <publicUrl>/cloud-init/<token>/ (`ds=nocloud-net;s=...`, ending in "/": cloud-init
// appends the file names). The run's token names the machine; it rotates with every run, so an old
// environment can neither read the new run's data nor write to its timeline.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ConflictError, ValidationError } from '../errors.js';
import type { EventSink } from '../machines/boot.js';
import type { BootAuth } from '../machines/boot-auth.js';
import type { Machine } from '../machines/model.js';
import { Closed, SafeText } from '../schemas.js';
import type { RenderCache } from './cache.js';
import { parseOperatorUserData } from './operator-user-data.js';
import {
  checkRendered, renderCmdlineConfig, renderMetaData, renderNetworkConfig, renderUserData, renderVendorData,
  seedDocuments, type SeedContext, type SeedDocument,
} from './render.js';

export interface CloudInitRouteDeps {
  /** Token and address together: the seed holds operator user-data (src/machines/boot-auth.ts). */
  readonly auth: Pick<BootAuth, 'authenticate'>;
  readonly events: EventSink;
  readonly cache: RenderCache;
  readonly publicUrl: string;
  readonly sshKeys: readonly string[];
}

/**
 * cloud-init's webhook reporter posts each event as JSON (cloudinit/reporting/handlers.py). Not
 * closed: finish events may carry more (`files` with post_files), which is ignored. What reaches the
 * timeline is bounded and free of terminal controls (probe F7, F12: a 900 KB description was taken).
 * A description is kept as sent up to its bound and escaped where it is printed (src/cli/escape.ts).
 */
const ReportingEvent = Type.Object({
  name: SafeText(256, { minLength: 1 }),
  event_type: SafeText(32, { minLength: 1 }),
  description: Type.Optional(Type.String({ maxLength: 16 * 1024 })),
  origin: Type.Optional(Type.String({ maxLength: 256 })),
  timestamp: Type.Optional(Type.Number()),
  result: Type.Optional(SafeText(32)),
});
type ReportingEvent = Static<typeof ReportingEvent>;

/** cloud-init's reports are a few hundred bytes; 64 KiB leaves room for long error descriptions. */
const reportBodyLimit = 64 * 1024;

const TokenParams = Closed({ token: Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' }) });

function phaseOf(machine: Machine): SeedContext['phase'] {
  if (machine.state === 'Commissioning') return 'commissioning';
  if (machine.state === 'Testing') return 'testing';
  throw new ConflictError(`machine ${machine.id} is ${machine.state}: it has no cloud-init environment running`);
}

/**
 * Which reporting events go on the timeline: each stage's start and finish (init-local, init-network,
 * modules-config, modules-final), and any nested step that did not succeed (with its description).
 * cloud-init 22.4 publishes a stage's start before it has read the reporting config, so only the
 * finishes reach us from a real machine; a start that does arrive is kept.
 */
export function timelineDetail(event: ReportingEvent): string | undefined {
  const stage = !event.name.includes('/');
  const bad = event.result !== undefined && event.result !== 'SUCCESS';
  if (!stage && !bad) return undefined;
  const result = event.event_type === 'finish' && event.result ? ` ${event.result}` : '';
  const why = bad && event.description ? `: ${event.description.slice(0, 300)}` : '';
  return `${event.name} ${event.event_type}${result}${why}`;
}

export const cloudInitRoutes: FastifyPluginAsync<CloudInitRouteDeps> = async (app, deps) => {
  // cloud-init posts reporting events without a Content-Type and phone_home as a form: take every
  // body of this plugin as text and parse it here.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: reportBodyLimit }, (_req, body, done) => done(null, body));

  const machineOf = (request: FastifyRequest): Machine => {
    const { token } = request.params as Static<typeof TokenParams>;
    return deps.auth.authenticate(token, request.ip, 'the cloud-init seed');
  };
  const contextOf = (machine: Machine): SeedContext => ({
    machine, phase: phaseOf(machine), publicUrl: deps.publicUrl, token: machine.token!, sshKeys: deps.sshKeys,
  });
  const render = (doc: SeedDocument, ctx: SeedContext): string => {
    switch (doc) {
      case 'meta-data': return renderMetaData(ctx);
      case 'user-data': return renderUserData(ctx, parseOperatorUserData(ctx.machine.userData));
      case 'vendor-data': return renderVendorData(ctx);
      case 'network-config': return renderNetworkConfig(ctx);
      case 'cloud-config': return renderCmdlineConfig(ctx);
    }
  };

  app.get('/cloud-init/:token/:document', {
    schema: { params: Closed({ ...TokenParams.properties, document: Type.Union(seedDocuments.map((d) => Type.Literal(d))) }) },
  }, async (request, reply) => {
    const { document } = request.params as { document: SeedDocument };
    const machine = machineOf(request);
    const ctx = contextOf(machine);
    const text = deps.cache.get(machine, document, () => checkRendered(document, render(document, ctx)));
    if (request.method === 'GET') deps.events.record({ mac: machine.bootMac, type: 'cloud-init', detail: `fetched ${document}` });
    return reply.type('text/plain; charset=utf-8').send(text);
  });

  // bodyLimit on the route too: the parser's limit above covers only the content types fastify has
  // no parser of its own for (text/plain and JSON took the global 1 MiB: probe F12).
  app.post('/cloud-init/:token/events', { bodyLimit: reportBodyLimit, schema: { params: TokenParams } }, async (request, reply) => {
    const machine = machineOf(request);
    let event: unknown = request.body; // parsed already when it came as application/json
    if (typeof event === 'string') {
      try {
        event = JSON.parse(event);
      } catch {
        throw new ValidationError('a reporting event must be a JSON object (cloud-init webhook reporter)');
      }
    }
    if (!Value.Check(ReportingEvent, event)) {
      const first = [...Value.Errors(ReportingEvent, event)][0];
      throw new ValidationError(`not a cloud-init reporting event: ${first ? `${first.path || '/'} ${first.message}` : 'wrong shape'}`);
    }
    phaseOf(machine);
    const detail = timelineDetail(event);
    if (detail) deps.events.record({ mac: machine.bootMac, type: 'cloud-init', detail });
    return reply.code(204).send();
  });

  app.post('/cloud-init/:token/phone-home', { bodyLimit: reportBodyLimit, schema: { params: TokenParams } }, async (request, reply) => {
    const machine = machineOf(request);
    phaseOf(machine);
    const form = new URLSearchParams(String(request.body ?? ''));
    const instance = form.get('instance_id');
    deps.events.record({ mac: machine.bootMac, type: 'cloud-init', detail: `finished${instance ? ` (instance ${instance.slice(0, 80)})` : ''}` });
    return reply.code(204).send();
  });
};
