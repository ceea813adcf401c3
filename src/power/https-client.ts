// A small HTTP(S) client for the Redfish and webhook drivers, on node:https: Node's global fetch
// cannot take a per-request CA or turn certificate checks off without undici's Agent, which is not a
// dependency of ours. One request, one deadline, a bounded answer; the Authorization header and every
// header value the caller passes stay out of errors.
// The deadline is absolute, from the request's start to the answer's last byte: an idle timeout alone
// (req.setTimeout, socket inactivity) is reset by every byte, so a BMC that trickles one byte every
// few seconds would hold the machine's power queue (one action in flight per machine) for ever.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PowerError } from './driver.js';

export interface TlsChoice {
  /** Check the server's certificate against the system CAs (or caCert when given). */
  readonly verify: boolean;
  /** PEM of the one CA (or self-signed certificate) the server's chain must lead to; implies verify. */
  readonly caCert?: string;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly tls: TlsChoice;
  /** Deadline of the whole request (connect, TLS, sending, the whole answer), ms. */
  readonly timeoutMs: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** A power controller's answer is a JSON document or a status line: more than this is not one. */
const maxAnswerBytes = 1024 * 1024;

export function httpCall(call: HttpRequest): Promise<HttpAnswer> {
  const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const secure = call.url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const where = `${call.method} ${call.url.origin}${call.url.pathname}`;
    // Settles the promise first: a request destroyed once its answer has begun does not always
    // report the destroying error on `req` (Node emits 'aborted'/ECONNRESET on the answer instead).
    const fail = (err: Error) => {
      clearTimeout(deadline);
      reject(wrap(where, err));
      req.destroy(err);
    };
    const deadline = setTimeout(() => fail(new PowerError(
      `${where}: not finished within the ${call.timeoutMs} ms deadline (the server is not answering, or answering too slowly)`,
    )), call.timeoutMs);
    const req = send(call.url, {
      method: call.method,
      headers: {
        Accept: 'application/json',
        ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(body.length) } : {}),
        ...call.headers,
      },
      ...(secure ? {
        rejectUnauthorized: call.tls.verify || call.tls.caCert !== undefined,
        ...(call.tls.caCert ? { ca: call.tls.caCert } : {}),
      } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxAnswerBytes) fail(new PowerError(`${where}: answer larger than ${maxAnswerBytes} bytes`));
        else chunks.push(chunk);
      });
      res.once('end', () => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.once('error', fail);
    });
    req.once('error', fail);
    req.end(body);
  });
}

/** Connection and TLS errors with what to do; their messages never hold our headers. */
function wrap(where: string, err: Error): PowerError {
  if (err instanceof PowerError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const hint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)
    ? ' (the certificate is not trusted: give the BMC\'s CA certificate as caCert, or turn verification off)'
    : code === 'ECONNREFUSED' ? ' (nothing listens there)' : '';
  return new PowerError(`${where}: ${err.message}${hint}`, { cause: err });
}
