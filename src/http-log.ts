// Request logs without secrets, for both HTTP apps (security probe F12). Fastify logs every request's
// URL at info level; a run's token is a path segment of the cloud-init seed URL
// (`/cloud-init/<token>/user-data`) and works as the machine's credential until the run ends, so it
// must not reach log files that other people read. Headers (the operator's `Authorization`) are
// not logged at all: the serializer is an allow-list, like fastify's own.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

const REDACTED = '<redacted>';
/** Path segments that follow these segments are credentials. */
const SECRET_AFTER = new Set(['cloud-init']);
/** Query parameters whose names look like credentials (the API refuses them, but logs the URL first). */
const SECRET_PARAM = /token|key|secret|password|auth/i;

export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  const segments = path.split('/');
  // Empty segments are skipped as the router skips them (ignoreDuplicateSlashes): `/cloud-init//t/`.
  let previous = '';
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] === '') continue;
    const segment = segments[i]!;
    if (SECRET_AFTER.has(previous)) segments[i] = REDACTED;
    previous = segment;
  }
  let redacted = segments.join('/');
  if (query !== -1) {
    const params = url.slice(query + 1).split('&').map((pair) => {
      const name = pair.split('=', 1)[0]!;
      return SECRET_PARAM.test(decodeSafely(name)) ? `${name}=${REDACTED}` : pair;
    });
    redacted += `?${params.join('&')}`;
  }
  return redacted;
}

/** What fastify logs of a request (its own fields), with the URL redacted. */
export function serializeRequest(request: FastifyRequest): object {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The logger an app is built with: its subsystem, and requests serialized without secrets. */
export function appLogger(log: Logger, subsystem: string): FastifyBaseLogger {
  return log.child({ subsystem }, { serializers: { req: serializeRequest } }) as FastifyBaseLogger;
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
