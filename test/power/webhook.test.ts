// The webhook power driver against our-webhook-test-server, a small HTTP server written for this
// test (the webhook driver is only a client: MAAS's is tested the same way, recipe bmc.md 3): POST
// on/off, GET status matched by the two regular expressions, the operator's headers sent, failures
// as PowerErrors that say what to change.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { PowerError, WebhookPowerDriver, type WebhookSettings } from '../../src/power/index.js';

interface Seen { method: string; path: string; authorization?: string }

/** our-webhook-test-server: a "PDU outlet" with /on, /off and /status; the status body is settable. */
class OurWebhookTestServer {
  readonly seen: Seen[] = [];
  state: 'running' | 'stopped' = 'stopped';
  /** Replaces the status answer when set. */
  statusBody: string | undefined;
  failWith: number | undefined;
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      this.seen.push({ method: req.method ?? '', path: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (this.failWith) return void res.writeHead(this.failWith).end('outlet busy');
      if (req.method === 'POST' && req.url === '/outlet/3/on') this.state = 'running';
      else if (req.method === 'POST' && req.url === '/outlet/3/off') this.state = 'stopped';
      else if (req.method === 'GET' && req.url === '/outlet/3/status') {
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(this.statusBody ?? JSON.stringify({ outlet: 3, status: this.state }));
      } else return void res.writeHead(404).end();
      res.writeHead(204).end();
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    await new Promise((done) => this.server?.close(done));
  }
}

describe('webhook power driver against our-webhook-test-server', () => {
  const server = new OurWebhookTestServer();
  const settings = (over: Partial<WebhookSettings> = {}): WebhookSettings => {
    const base = `http://127.0.0.1:${server.port}/outlet/3`;
    return { onUrl: `${base}/on`, offUrl: `${base}/off`, statusUrl: `${base}/status`, headers: { Authorization: 'Bearer pdu-token-123' }, ...over };
  };

  beforeAll(() => server.start());
  afterAll(() => server.stop());
  beforeEach(() => {
    server.seen.length = 0;
    server.state = 'stopped';
    server.statusBody = undefined;
    server.failWith = undefined;
  });

  test('on, off and status with the default (MAAS) regular expressions; the headers go with every request', async () => {
    const driver = new WebhookPowerDriver(settings());
    expect(await driver.query()).toBe('off');
    await driver.on();
    expect(await driver.query()).toBe('on');
    await driver.off();
    expect(await driver.query()).toBe('off');
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /outlet/3/status', 'POST /outlet/3/on', 'GET /outlet/3/status', 'POST /outlet/3/off', 'GET /outlet/3/status',
    ]);
    expect(server.seen.every((s) => s.authorization === 'Bearer pdu-token-123')).toBe(true);
  });

  test('cycle: off first when on, then on', async () => {
    server.state = 'running';
    await new WebhookPowerDriver(settings()).cycle();
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /outlet/3/status', 'POST /outlet/3/off', 'POST /outlet/3/on']);
    expect(server.state).toBe('running');
  });

  test('the operator\'s own regular expressions decide', async () => {
    server.statusBody = 'outlet 3: POWER=1';
    expect(await new WebhookPowerDriver(settings({ onRegex: 'POWER=1', offRegex: 'POWER=0' })).query()).toBe('on');
    server.statusBody = 'outlet 3: POWER=0';
    expect(await new WebhookPowerDriver(settings({ onRegex: 'POWER=1', offRegex: 'POWER=0' })).query()).toBe('off');
  });

  test('an answer that matches neither expression is a PowerError naming both and quoting the answer', async () => {
    server.statusBody = '{"outlet":3,"status":"rebooting"}';
    const error = await new WebhookPowerDriver(settings()).query().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/matches neither onRegex \/status\.\*:\.\*running\/ nor offRegex \/status\.\*:\.\*stopped\/ \(answer begins "\{\\"outlet\\":3,\\"status\\":\\"rebooting\\"\}"\)/);
  });

  test('an HTTP error status and nothing listening are PowerErrors without the headers', async () => {
    server.failWith = 503;
    const busy = await new WebhookPowerDriver(settings()).on().then(() => undefined, (e: unknown) => e);
    expect((busy as Error).message).toBe(`webhook on POST http://127.0.0.1:${server.port}/outlet/3/on: HTTP 503`);
    const nobody = await new WebhookPowerDriver(settings({ statusUrl: 'http://127.0.0.1:1/status?token=abc' })).query().then(() => undefined, (e: unknown) => e);
    expect((nobody as Error).message).toMatch(/GET http:\/\/127\.0\.0\.1:1\/status: .*ECONNREFUSED.*nothing listens there/);
    for (const error of [busy, nobody]) expect(String((error as Error).message)).not.toMatch(/pdu-token-123|token=abc/);
  });
});
