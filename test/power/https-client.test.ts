// The Redfish/webhook HTTP client's deadline against our-trickle-test-server (written for this test,
// on 127.0.0.1): a server that sends its status line and headers at once and then one byte of body
// every 50 ms, or never answers at all. An idle timeout alone is reset by each byte, so only an
// absolute deadline for the whole request ends the call; over plain HTTP and over TLS (a
// self-signed certificate made by openssl for this run).
import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { httpCall } from '../../src/power/https-client.js';
import { PowerError } from '../../src/power/index.js';
import { tempDir } from '../support/fixtures.js';

const byteEveryMs = 50;

/** /trickle: 200 and headers, then one byte every 50 ms, for ever; /silent: nothing; /ok: a small JSON answer. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/silent') return;
  if (req.url === '/ok') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"PowerState":"On"}');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), byteEveryMs);
  res.once('close', () => clearInterval(timer));
}

const dir = tempDir('nb-https-client-');
const servers: Server[] = [];
let httpPort = 0;
let httpsPort = 0;

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  const key = join(dir.path, 'key.pem');
  const cert = join(dir.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  httpPort = await listen(createHttpServer(handler));
  httpsPort = await listen(createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler));
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
  dir.cleanup();
});

const url = (scheme: 'http' | 'https', path: string) => new URL(`${scheme}://127.0.0.1:${scheme === 'http' ? httpPort : httpsPort}${path}`);

describe.each(['http', 'https'] as const)('over %s', (scheme) => {
  test('a server trickling bytes is cut off at the deadline, with a message naming it', async () => {
    const started = Date.now();
    const call = httpCall({ method: 'GET', url: url(scheme, '/trickle'), tls: { verify: false }, timeoutMs: 400 });
    const error = await call.then(() => undefined, (err: unknown) => err);
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(new RegExp(`^GET ${scheme}://127\\.0\\.0\\.1:\\d+/trickle: not finished within the 400 ms deadline`));
    // Bytes kept coming every 50 ms, far inside any idle timeout: only the deadline ended it.
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(2000);
  });

  test('a server that never answers is cut off at the deadline too', async () => {
    const call = httpCall({ method: 'POST', url: url(scheme, '/silent'), body: { ResetType: 'On' }, tls: { verify: false }, timeoutMs: 200 });
    await expect(call).rejects.toThrow(/POST .*\/silent: not finished within the 200 ms deadline/);
  });

  test('an answer inside the deadline is returned whole', async () => {
    const answer = await httpCall({ method: 'GET', url: url(scheme, '/ok'), tls: { verify: false }, timeoutMs: 2000 });
    expect(answer).toMatchObject({ status: 200, text: '{"PowerState":"On"}' });
  });
});
