// NoCloud seed and cloud-init's callbacks on the boot side (untrusted). The seed URL on the kernel
// command line is <publicUrl>/cloud-init/<token>/ (`ds=nocloud-net;s=...`, ending in "/": cloud-init
// appends the file names). The run's token names the machine; it rotates with every run, so an old
// environment can neither read the new run's data nor write to its timeline.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { EventSink } from '../machines/boot.js';
import type { BootAuth } from '../machines/boot-auth.js';
import type { Machine } from '../machines/model.js';
import { runningPhase, runningSystem } from '../machines/script-runs.js';
import { Closed, SafeText } from '../schemas.js';
import {
  renderSystemMetaData, renderSystemUserData, renderSystemVendorData, renderTargetSystemConfig, systemInstanceId, type SystemKind, type SystemSeedContext,
} from './deployed-render.js';
import type { RenderCache } from './cache.js';
import { parseOperatorUserData } from './operator-user-data.js';
import {
  checkRendered, renderCmdlineConfig, renderMetaData, renderNetworkConfig, renderUserData, renderVendorData,
  seedDocuments, type SeedContext, type SeedDocument,
} from './render.js';
import { eventKey } from '../machines/boot.js';

export interface CloudInitRouteDeps {
  /** Token and address together: the seed holds operator user-data (src/machines/boot-auth.ts). */
  readonly auth: Pick<BootAuth, 'authenticate'>;
  readonly events: EventSink;
  readonly cache: RenderCache;
  readonly publicUrl: string;
  readonly sshKeys: readonly string[];
  /** config cloudInit.apt: the deployed systems' package sources. */
  readonly apt?: SystemSeedContext['apt'];
  /**
   * The deployed system or rescue mode reported cloud-init's last stage (phone_home, or the
   * modules-final finish event with its result): the domain decides whether that ends a phase.
   */
  readonly systemFinished?: (machine: Machine, result: string) => void;
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

/** What runs on the machine with this token: a script runner's environment, or its own system. */
type Environment = { readonly runner: SeedContext['phase'] } | { readonly system: SystemKind };

function environmentOf(machine: Machine): Environment {
  const phase = runningPhase(machine);
  if (phase) return { runner: phase };
  const system = runningSystem(machine);
  if (system) return { system };
  throw new ConflictError(`machine ${machine.id} is ${machine.state}: it has no cloud-init environment running`);
}

/**
 * The installed system's documents the installer writes onto the disk (deploy/builtin/40-configure).
 * network-config is asked for and answered 404: the deployed system's cloud-init then configures
 * DHCP on the first NIC with a link (recipes/deploy.md §3.5, measured), which names the interface
 * as the deployed kernel does; a MAC-matched v2 config was never boot-tested with 22.4's ENI renderer.
 */
const targetDocuments = ['meta-data', 'user-data', 'vendor-data', 'cloud-config', 'network-config'] as const;
type TargetDocument = (typeof targetDocuments)[number];

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
  const systemContext = (machine: Machine, system: SystemKind): SystemSeedContext => ({
    machine, kind: system, publicUrl: deps.publicUrl, token: machine.token!,
    sshKeys: [...deps.sshKeys, ...(machine.deployment?.sshKeys ?? [])], ...(deps.apt ? { apt: deps.apt } : {}),
  });
  const render = (doc: SeedDocument, machine: Machine): string => {
    const env = environmentOf(machine);
    if ('system' in env) {
      const ctx = systemContext(machine, env.system);
      switch (doc) {
        case 'meta-data': return renderSystemMetaData(ctx);
        case 'user-data': return renderSystemUserData(ctx, parseOperatorUserData(machine.userData));
        case 'vendor-data': return renderSystemVendorData(ctx);
        case 'network-config': return renderNetworkConfig(ctx);
        case 'cloud-config': return renderCmdlineConfig(ctx);
      }
    }
    const ctx: SeedContext = { machine, phase: env.runner, publicUrl: deps.publicUrl, token: machine.token!, sshKeys: deps.sshKeys };
    // The operator's user-data is for the deployed system: the installer's and the eraser's
    // environments run none of it (commissioning keeps running it, as it always has).
    const operator = env.runner === 'deployment' || env.runner === 'erasing' ? { kind: 'none' as const } : parseOperatorUserData(machine.userData);
    switch (doc) {
      case 'meta-data': return renderMetaData(ctx);
      case 'user-data': return renderUserData(ctx, operator);
      case 'vendor-data': return renderVendorData(ctx);
      case 'network-config': return renderNetworkConfig(ctx);
      case 'cloud-config': return renderCmdlineConfig(ctx);
    }
  };
  const renderTarget = (doc: TargetDocument, machine: Machine): string => {
    if (runningPhase(machine) !== 'deployment') {
      throw new ConflictError(`machine ${machine.id} is ${machine.state}: only its installer reads the deployed system's seed`);
    }
    const ctx = systemContext(machine, 'deployed');
    switch (doc) {
      case 'meta-data': return renderSystemMetaData(ctx);
      case 'user-data': return renderSystemUserData(ctx, parseOperatorUserData(machine.userData));
      case 'vendor-data': return renderSystemVendorData(ctx);
      case 'cloud-config': return renderTargetSystemConfig(ctx);
      case 'network-config': throw new NotFoundError('no network-config for the deployed system: its cloud-init falls back to DHCP on the first NIC with a link');
    }
  };

  app.get('/cloud-init/:token/:document', {
    schema: { params: Closed({ ...TokenParams.properties, document: Type.Union(seedDocuments.map((d) => Type.Literal(d))) }) },
  }, async (request, reply) => {
    const { document } = request.params as { document: SeedDocument };
    const machine = machineOf(request);
    const text = deps.cache.get(machine, document, () => checkRendered(document, render(document, machine)));
    if (request.method === 'GET') deps.events.record({ ...eventKey(machine), type: 'cloud-init', detail: `fetched ${document}` });
    return reply.type('text/plain; charset=utf-8').send(text);
  });

  app.get('/cloud-init/:token/target/:document', {
    schema: { params: Closed({ ...TokenParams.properties, document: Type.Union(targetDocuments.map((d) => Type.Literal(d))) }) },
  }, async (request, reply) => {
    const { document } = request.params as { document: TargetDocument };
    const machine = machineOf(request);
    const text = deps.cache.get(machine, `target/${document}`, () => checkRendered(document, renderTarget(document, machine)));
    if (request.method === 'GET') deps.events.record({ ...eventKey(machine), type: 'cloud-init', detail: `installer fetched the deployed system's ${document}` });
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
    const env = environmentOf(machine);
    const detail = timelineDetail(event);
    if (detail) deps.events.record({ ...eventKey(machine), type: 'cloud-init', detail });
    // cloud-init's last stage is over (with its result: FAIL means "up, with errors", deploy.md §0.3).
    // Not for rescue mode, which shares a deployed system's token (lifecycle-table.ts rescueKeepsToken)
    // and so waits for its own instance's phone-home (below): a report carries no instance id.
    if ('system' in env && env.system !== 'rescue' && event.name === 'modules-final' && event.event_type === 'finish') {
      deps.systemFinished?.(machine, event.result ?? 'SUCCESS');
    }
    return reply.code(204).send();
  });

  app.post('/cloud-init/:token/phone-home', { bodyLimit: reportBodyLimit, schema: { params: TokenParams } }, async (request, reply) => {
    const machine = machineOf(request);
    const env = environmentOf(machine);
    const form = new URLSearchParams(String(request.body ?? ''));
    const instance = form.get('instance_id');
    deps.events.record({ ...eventKey(machine), type: 'cloud-init', detail: `finished${instance ? ` (instance ${instance.slice(0, 80)})` : ''}` });
    if (!('system' in env)) return reply.code(204).send();
    // Rescue mode of a deployed machine runs under the deployed system's token: only the rescue
    // session's own instance says the rescue environment is up (a late post of the deployed system,
    // still running as the power cycle was queued, would otherwise pass Entering rescue).
    const expected = env.system === 'rescue' ? systemInstanceId(systemContext(machine, 'rescue')) : undefined;
    if (expected !== undefined && instance !== expected) {
      deps.events.record({ ...eventKey(machine), type: 'note', detail: `phone-home from instance ${instance?.slice(0, 80) ?? '(none)'}, not this rescue session's ${expected}: ignored` });
    } else {
      deps.systemFinished?.(machine, 'SUCCESS');
    }
    return reply.code(204).send();
  });
};
