// BMC passwords and webhook header values (issue 14): sealed at rest with the data directory's key
// (mode 0600), never in an API answer, the CLI's output, the log or the timeline, including when a
// power controller echoes a credential into its error. The appliance is the real graph (real
// drivers: ipmitool against a port nothing answers on, a webhook server of ours that echoes headers);
// the CLI runs its real commands in-process against the listening API and the store.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { registerMachineCommands } from '../../src/cli/machines.js';
import { MachineService } from '../../src/machines/service.js';
import { createPowerDriver, parsePowerSettings } from '../../src/power/index.js';
import { SecretBox, secretKeyFile } from '../../src/secret-box.js';
import { openStore } from '../../src/store/index.js';
import { operatorToken, testAppliance, type TestAppliance } from '../support/appliance.js';
import { silentLog, tempDir } from '../support/fixtures.js';

const ipmiPassword = 'Cli-Secret-77';
const hookToken = 'Hook-Secret-55';
const secrets = [ipmiPassword, hookToken];

describe('power secrets are sealed at rest and masked in every view', () => {
  let app: TestAppliance;
  let logged = '';
  let echo: Server;
  let dir: ReturnType<typeof tempDir>;
  const auth = { authorization: `Bearer ${operatorToken}` };
  const savedEnv = { ...process.env };
  const ids: string[] = [];

  /** Runs `netboot <args>` in-process; returns what it printed. */
  async function cli(...args: string[]): Promise<string> {
    const program = new Command('netboot').option('--data-dir <dir>').option('-c, --config <file>').option('--log-level <level>').exitOverride();
    registerMachineCommands(program);
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.map(String).join(' ')));
    try {
      await program.parseAsync(['--data-dir', join(app.dir, 'data'), ...args], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    return printed.join('\n');
  }

  beforeAll(async () => {
    dir = tempDir('nb-secrets-');
    // A "PDU" that answers its status with the request's headers: a credential in an error message.
    echo = createServer((req, res) => res.writeHead(200).end(`you sent ${JSON.stringify(req.headers)}`));
    await new Promise<void>((done) => echo.listen(0, '127.0.0.1', done));
    const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _enc, done) => { logged += chunk.toString(); done(); } }));
    app = await testAppliance({ log, config: { 'power.pollIntervalSeconds': 0 } });
    const listening = await app.listen();
    Object.assign(process.env, { NETBOOT_API_PORT: String(listening.apiAddress!.port), NETBOOT_API_TOKEN: operatorToken });
  });

  afterAll(async () => {
    process.env = savedEnv;
    await app?.dispose();
    await new Promise((done) => echo?.close(done));
    dir?.cleanup();
  });

  test('machines add with --password-file, and a webhook with headers over the API', async () => {
    const passwordFile = join(dir.path, 'bmc-password');
    writeFileSync(passwordFile, `${ipmiPassword}\n`, { mode: 0o600 });
    const printed = await cli('machines', 'add', '52:54:00:14:00:02', '--power', 'ipmi:127.0.0.1:1', '--user', 'netboot', '--password-file', passwordFile);
    expect(printed).toMatch(/^\w+ \(nb-\w+\): Commissioning/);
    ids.push(printed.split(' ')[0]!);
    const port = (echo.address() as { port: number }).port;
    const hook = await app.apiApp!.inject({
      method: 'POST', url: '/api/v1/machines', headers: auth, payload: {
        mac: '52:54:00:14:00:03',
        power: {
          type: 'webhook', onUrl: `http://127.0.0.1:${port}/on`, offUrl: `http://127.0.0.1:${port}/off`,
          statusUrl: `http://127.0.0.1:${port}/status`, headers: { Authorization: `Bearer ${hookToken}` },
        },
      },
    });
    expect(hook.statusCode, hook.body).toBe(201);
    expect(hook.json()).toMatchObject({ power: { type: 'webhook', headers: { Authorization: '(secret)' } } });
    ids.push(hook.json<{ id: string }>().id);
    for (const id of ids) await app.service.powerSettled(id);
    await app.service.pollPower();
  }, 30_000);

  test('a Redfish BMC whose certificate is not verified gets a warning on its timeline', async () => {
    const added = await app.apiApp!.inject({
      method: 'POST', url: '/api/v1/machines', headers: auth,
      payload: { mac: '52:54:00:14:00:05', power: { type: 'redfish', address: '127.0.0.1:1', user: 'admin', password: ipmiPassword } },
    });
    expect(added.statusCode, added.body).toBe(201);
    const id = added.json<{ id: string }>().id;
    await app.service.powerSettled(id);
    const notes = app.store.events.forMachine(id).filter((e) => e.type === 'note').map((e) => e.detail);
    expect(notes).toContainEqual(expect.stringMatching(/^warning: the Redfish BMC's TLS certificate is not verified/));
    ids.push(id);
  });

  test('the failures the drivers reported are on the machines, with echoed credentials blanked', () => {
    const [bmc, hook] = ids.slice(0, 2).map((id) => app.store.machines.get(id)!);
    expect(bmc!.powerState).toBe('error');
    expect(hook!.powerState).toBe('error');
    expect(hook!.powerError).toContain('"authorization\\":\\"(secret)\\"'); // the whole header value is the secret
    expect(hook!.powerError).not.toContain(hookToken);
  });

  test('no API answer holds a secret', async () => {
    const urls = ['/api/v1/machines', ...ids.flatMap((id) => [`/api/v1/machines/${id}`, `/api/v1/machines/${id}/events`])];
    for (const url of urls) {
      const answer = await app.apiApp!.inject({ method: 'GET', url, headers: auth });
      expect(answer.statusCode, url).toBe(200);
      for (const secret of secrets) expect(answer.body, url).not.toContain(secret);
    }
    const tooLong = await app.apiApp!.inject({
      method: 'PATCH', url: `/api/v1/machines/${ids[0]}`, headers: auth,
      payload: { power: { type: 'ipmi', address: '10.0.0.5', user: 'netboot', password: `${ipmiPassword}-much-too-long-for-ipmi` } },
    });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.body).not.toContain(ipmiPassword);
  });

  test('no CLI output holds a secret (show, show --json, list --json)', async () => {
    for (const id of ids) {
      const shown = await cli('machines', 'show', id);
      expect(shown).toMatch(/power {6}(ipmi|webhook|redfish)(, error at \d\d:\d\d:\d\dZ: |$)/m);
      const outputs = [shown, await cli('machines', 'show', id, '--json')];
      for (const output of outputs) for (const secret of secrets) expect(output).not.toContain(secret);
    }
    const list = await cli('machines', 'list', '--json');
    for (const secret of secrets) expect(list).not.toContain(secret);
  });

  test('the log holds no secret', () => {
    expect(logged).toMatch(/power cycle failed/);
    for (const secret of secrets) expect(logged).not.toContain(secret);
  });

  test('the database holds only sealed secrets; the key file is 0600', async () => {
    await app.store.close().catch(() => undefined); // flush the WAL into view; dispose() closes again
    const dataDir = join(app.dir, 'data');
    for (const file of readdirSync(dataDir).filter((f) => f.startsWith('netboot.db'))) {
      const bytes = readFileSync(join(dataDir, file));
      for (const secret of secrets) expect(bytes.includes(secret), file).toBe(false);
    }
    const store = openStore(dataDir);
    try {
      const rows = store.db.prepare<[], { power: string }>('SELECT power FROM machines').all();
      expect(rows.map((r) => r.power).join('\n').match(/nbsec:v1:/g)).toHaveLength(3);
    } finally {
      await store.close();
    }
    expect(statSync(secretKeyFile(dataDir)).mode & 0o777).toBe(0o600);
  });
});

test('settings stored in the clear (before sealing) stay usable and are sealed at the next start', async () => {
  const dir = tempDir('nb-legacy-');
  const store = openStore(dir.path);
  try {
    const machine = store.machines.create({ bootMac: '52:54:00:14:00:04', power: { type: 'ipmi', address: '10.0.0.9', user: 'u', password: 'Plain-Old-1' } });
    const box = SecretBox.forDataDir(dir.path);
    const built: Array<Record<string, unknown>> = [];
    const service = new MachineService({
      store, log: silentLog, builtinScripts: [], secrets: box,
      timeouts: { commissioning: 600, testing: 600, deploying: 600, releasing: 600, erasing: 600, rescue: 600 },
      powerDriver: (settings) => {
        built.push(settings);
        return createPowerDriver(parsePowerSettings({ type: 'manual' }));
      },
    });
    service.start();
    const stored = store.db.prepare<[string], { power: string }>('SELECT power FROM machines WHERE id = ?').get(machine.id)!.power;
    expect(stored).not.toContain('Plain-Old-1');
    expect(box.open((JSON.parse(stored) as { password: string }).password)).toBe('Plain-Old-1');
    service.act(machine.id, { type: 'commission' });
    await service.powerSettled(machine.id);
    expect(built[0]).toMatchObject({ password: 'Plain-Old-1' }); // the driver gets it opened
    await service.close();
  } finally {
    await store.close();
    dir.cleanup();
  }
});

test('a sealed secret does not open with another key, nor when changed', () => {
  const box = SecretBox.withKey(Buffer.alloc(32, 1));
  const sealed = box.seal('hunter2');
  expect(box.open(sealed)).toBe('hunter2');
  expect(box.seal('hunter2')).not.toBe(sealed); // a fresh IV each time
  expect(() => SecretBox.withKey(Buffer.alloc(32, 2)).open(sealed)).toThrow(/cannot be opened with this data directory's secret.key/);
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-1);
  expect(() => box.open(tampered)).toThrow(/cannot be opened/);
});
