// The CLI's side of the operator API: actions go through the running appliance (it owns timers and
// power); reads that need no appliance (list, show) read the store directly.
import type { Config } from '../config/schema.js';
import { ConfigError, NetbootError } from '../errors.js';
import { operatorToken } from '../api/index.js';

/** An error the API answered with: its code and message, as the operator should read them. */
export class ApiCallError extends NetbootError {
  readonly code: string;
  constructor(override readonly statusCode: number, code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ApiClient {
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** A GET whose answer is text (a machine's user-data). */
  text(path: string): Promise<string>;
  stream(path: string, onEvent: (data: string) => void, signal: AbortSignal): Promise<void>;
}

export function apiClient(config: Readonly<Config>): ApiClient {
  const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}/api/v1`;
  const headers = (): Record<string, string> => ({ authorization: `Bearer ${operatorToken(config)}` });
  const request = async (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> => {
    try {
      return await fetch(`${base}${path}`, {
        method, signal: signal ?? null,
        headers: body === undefined ? headers() : { ...headers(), 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ConfigError(`cannot reach the netboot API at ${base} (is \`netboot serve\` running with this config?): ${(error as Error).cause ?? (error as Error).message}`);
    }
  };
  return {
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await request(method, path, body);
      if (response.status === 204) return undefined as T;
      const payload = await response.json() as { error?: string; message?: string };
      if (!response.ok) throw new ApiCallError(response.status, payload.error ?? `HTTP_${response.status}`, payload.message ?? response.statusText);
      return payload as T;
    },
    async text(path: string): Promise<string> {
      const response = await request('GET', path);
      if (response.ok) return response.text();
      const payload = await response.json().catch(() => ({})) as { error?: string; message?: string };
      throw new ApiCallError(response.status, payload.error ?? `HTTP_${response.status}`, payload.message ?? response.statusText);
    },
    async stream(path, onEvent, signal) {
      const response = await request('GET', path, undefined, signal);
      if (!response.ok || !response.body) {
        const payload = await response.json().catch(() => ({})) as { error?: string; message?: string };
        throw new ApiCallError(response.status, payload.error ?? `HTTP_${response.status}`, payload.message ?? response.statusText);
      }
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const message = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = message.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) onEvent(data);
        }
      }
    },
  };
}
