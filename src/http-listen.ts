// What both HTTP listeners (boot side and operator API) share: bounds on how long a client may take
// and, on the boot side, how many connections it may hold (security probe F6), and a listen whose
// failures tell the operator what to change instead of printing a stack (probe F10).
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { ListenError } from './errors.js';

export interface HttpLimits {
  /** Time to receive a whole request, headers and body (fastify requestTimeout). */
  readonly requestTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed (fastify connectionTimeout). */
  readonly connectionTimeoutMs: number;
}

/** The config defaults (src/config/schema.ts), for apps built without a config (tests, the lab). */
export const defaultHttpLimits: HttpLimits = { requestTimeoutMs: 120_000, connectionTimeoutMs: 60_000 };

/** Fastify options that apply the limits. */
export function limitOptions(limits: HttpLimits): Pick<FastifyServerOptions, 'requestTimeout' | 'connectionTimeout'> & { http: object } {
  return {
    // Without these a trickled body (one byte every few seconds) holds a socket and a parser for
    // ever: fastify's defaults are 0 (none).
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    http: {
      // Node's own default, made explicit: a client has 60 s for its headers (never more than for
      // the whole request).
      headersTimeout: Math.min(60_000, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      // Node checks both timeouts only this often (30 s by default): a request is cut between its
      // bound and bound + interval.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(limits.requestTimeoutMs / 4))),
    },
  };
}

export interface Listener {
  /** For the operator: "boot HTTP listener", "operator API". */
  readonly name: string;
  /** The config keys that choose the address and the port, e.g. `http.host`, `http.port`. */
  readonly hostKey: string;
  readonly portKey: string;
  readonly host: string;
  readonly port: number;
  /** Connections held at once beyond which new ones are closed as they arrive (Node drops them). */
  readonly maxConnections?: number;
}

/** Listens and returns the bound address; failures an operator can fix become a ListenError. */
export async function listenHttp(app: FastifyInstance, listener: Listener): Promise<{ host: string; port: number }> {
  if (listener.maxConnections !== undefined) app.server.maxConnections = listener.maxConnections;
  try {
    await app.listen({ host: listener.host, port: listener.port });
  } catch (err) {
    throw explainListenError(err, listener);
  }
  const bound = app.server.address();
  return bound && typeof bound === 'object' ? { host: bound.address, port: bound.port } : { host: listener.host, port: listener.port };
}

function explainListenError(err: unknown, listener: Listener): unknown {
  const { name, hostKey, portKey, host, port } = listener;
  const at = `${host}:${port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new ListenError(`${name}: ${at} is already in use: stop the other server on port ${port} (another netboot?) or set ${portKey}`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new ListenError(`${name}: ${host} is not an address of this host (${at}): set ${hostKey} to one of its addresses, or 0.0.0.0`, { cause: err });
    case 'EACCES':
      return new ListenError(`${name}: port ${port} (${at}) needs root or CAP_NET_BIND_SERVICE: grant it or set ${portKey}`, { cause: err });
    default:
      return err;
  }
}

/** Whether only this host can reach the address (127/8, RFC 1122 §3.2.1.3; ::1, RFC 4291 §2.5.3). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
