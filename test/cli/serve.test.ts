// `netboot serve` as a real process on loopback: it starts from a YAML file, serves, refuses a bad
// config with a clear message, SIGHUP serves images built since start, and SIGTERM closes it cleanly
// with the data kept.
import { afterEach, expect, test } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { Launched } from '../../src/lab/launcher.js';
import { cliEntry } from '../../src/paths.js';
import { openStore } from '../../src/store/index.js';
import { sampleInventory, tempDir } from '../support/fixtures.js';
import { sha256, writeImage } from '../images/fixtures.js';

const dirs: Array<ReturnType<typeof tempDir>> = [];
const processes: Launched[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop(1000)));
  dirs.splice(0).forEach((d) => d.cleanup());
});

function setup(config: object): { dir: string; configFile: string } {
  const dir = tempDir();
  dirs.push(dir);
  const configFile = join(dir.path, 'netboot.yaml');
  writeFileSync(configFile, yaml.dump(config));
  return { dir: dir.path, configFile };
}

test('serve listens, answers, and exits 0 on SIGTERM keeping its data', async () => {
  const { dir, configFile } = setup({});
  const config = {
    dataDir: join(dir, 'data'), log: { level: 'info' }, images: { dir: join(dir, 'images') },
    http: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1' },
    tftp: { enabled: false }, // the default binds 0.0.0.0:69; tests stay on loopback
    api: { port: 0 }, // any free port: 5240 may be taken on the test host
  };
  writeFileSync(configFile, yaml.dump(config));
  const server = await Launched.start({
    name: 'netboot serve', command: process.execPath, args: [cliEntry, 'serve', '--config', configFile], logFile: join(dir, 'serve.log'),
  });
  processes.push(server);
  const line = await server.waitFor(/netboot is serving/, 15_000, 'the listener');
  const { http } = JSON.parse(line) as { http: { port: number } };
  const health = await fetch(`http://127.0.0.1:${http.port}/healthz`);
  expect(await health.json()).toEqual({ ok: true });
  const script = await fetch(`http://127.0.0.1:${http.port}/boot/52:54:00:12:34:56.ipxe`);
  // No image is built: iPXE is told so and asks again later, rather than falling through.
  expect(await script.text()).toContain('netboot images build micro');

  process.kill(server.pid, 'SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
  expect(server.tail()).toMatch(/shutting down/);
  const store = openStore(config.dataDir);
  expect(store.events.since(0).map((e) => e.type)).toEqual(['ipxe-script']);
  await store.close();
}, 30_000);

test('an image built after start is served after SIGHUP', async () => {
  const { dir, configFile } = setup({});
  const images = join(dir, 'images');
  writeFileSync(configFile, yaml.dump({
    dataDir: join(dir, 'data'), log: { level: 'info' }, images: { dir: images },
    http: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1' }, tftp: { enabled: false }, api: { enabled: false },
  }));
  const server = await Launched.start({
    name: 'netboot serve', command: process.execPath, args: [cliEntry, 'serve', '--config', configFile], logFile: join(dir, 'serve.log'),
  });
  processes.push(server);
  const { http } = JSON.parse(await server.waitFor(/netboot is serving/, 15_000, 'the listener')) as { http: { port: number } };
  const script = async () => (await fetch(`http://127.0.0.1:${http.port}/boot/52:54:00:12:34:56.ipxe`)).text();
  expect(await script()).toContain('netboot images build micro'); // this miss reloads: nothing built yet
  const micro = writeImage(images, 'micro');
  expect(await script()).toContain('netboot images build micro'); // within a minute of that: no reload
  process.kill(server.pid, 'SIGHUP');
  await server.waitFor(/"added":\["micro"\].*images reloaded/, 10_000, 'the reload that finds micro');
  expect(await script()).toContain(`/files/${sha256(micro.contents.kernel)}`);
}, 30_000);

test('a bad config is refused before anything starts, naming the field', () => {
  const { configFile } = setup({ http: { port: 'eighty' }, dhcp: { enabled: true } });
  let stderr = '';
  try {
    execFileSync(process.execPath, [cliEntry, 'serve', '--config', configFile], { stdio: 'pipe', timeout: 15_000 });
  } catch (error) {
    stderr = String((error as { stderr: Buffer }).stderr);
    expect((error as { status: number }).status).toBe(1);
  }
  expect(stderr).toMatch(/invalid configuration in .*netboot\.yaml/);
  expect(stderr).toMatch(/\/http\/port/);
  expect(stderr).toMatch(/\/dhcp\/serverAddress/);
  expect(stderr).toMatch(/NB_ERR_CONFIG_INVALID/);
});

/** A config for a serve on loopback, any free ports, TFTP off (its default binds 0.0.0.0:69). */
function loopbackConfig(dir: string, extra: object = {}): object {
  return {
    dataDir: join(dir, 'data'), log: { level: 'info' }, images: { dir: join(dir, 'images') },
    http: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1' }, tftp: { enabled: false },
    api: { port: 0, token: operatorToken }, ...extra,
  };
}

async function startServe(dir: string, configFile: string): Promise<{ server: Launched; http: { port: number }; api: { port: number } }> {
  const server = await Launched.start({
    name: 'netboot serve', command: process.execPath, args: [cliEntry, 'serve', '--config', configFile], logFile: join(dir, `serve-${processes.length}.log`),
  });
  processes.push(server);
  const line = await server.waitFor(/netboot is serving/, 15_000, 'the listener');
  return { server, ...(JSON.parse(line) as { http: { port: number }; api: { port: number } }) };
}

const operatorToken = 'operator-token-for-serve-tests-0123456789';

test('SIGTERM ends an open `machines watch` stream and exits 0 at once (probe F5)', async () => {
  const { dir, configFile } = setup({});
  writeFileSync(configFile, yaml.dump(loopbackConfig(dir)));
  const { server, http, api } = await startServe(dir, configFile);
  // A machine to watch: enlist one through the boot side, as the enlist agent does.
  const enlisted = await fetch(`http://127.0.0.1:${http.port}/enlist/v1/machines`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sampleInventory()),
  });
  const { id } = (await enlisted.json()) as { id: string };
  const watch = await fetch(`http://127.0.0.1:${api.port}/api/v1/machines/${id}/events/stream`, { headers: { authorization: `Bearer ${operatorToken}` } });
  expect(watch.status).toBe(200);
  const body = watch.text(); // read to the end: the server must end it
  const started = Date.now();
  process.kill(server.pid, 'SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(8000); // the old code waited for the watcher to go
  expect(await body).toContain('event: machine');
}, 30_000);

/** Runs `serve` expecting it to fail; its exit status and standard error. */
function failingServe(configFile: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliEntry, 'serve', '--config', configFile], { timeout: 15_000 }, (error, _stdout, stderr) => {
      resolve({ status: error ? (error as { code?: number }).code ?? null : 0, stderr });
    });
  });
}

test.each([
  {
    name: 'the boot port is taken (EADDRINUSE)', taken: true, extra: (port: number) => ({ http: { host: '127.0.0.1', port, publicUrl: 'http://127.0.0.1' } }),
    want: /^netboot: boot HTTP listener: 127\.0\.0\.1:\d+ is already in use: .*set http\.port \[NB_ERR_LISTEN_FAILED\]$/,
  },
  {
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface here: the bind fails at once, nothing is sent.
    name: 'the API address is not local (EADDRNOTAVAIL)', taken: false, extra: () => ({ api: { host: '192.0.2.1', port: 0, token: operatorToken } }),
    want: /^netboot: operator API: 192\.0\.2\.1 is not an address of this host .*set api\.host .*\[NB_ERR_LISTEN_FAILED\]$/,
  },
])('$name: one line naming the listener, the address and the key to change', async ({ taken, extra, want }) => {
  const { dir, configFile } = setup({});
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const port = taken ? (blocker.address() as AddressInfo).port : 0;
    writeFileSync(configFile, yaml.dump({ ...loopbackConfig(dir), ...extra(port) }));
    const { status, stderr } = await failingServe(configFile);
    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr.trim()).toMatch(want);
  } finally {
    blocker.close();
  }
}, 30_000);

test('a second serve on the same data directory exits 1 with one line naming the first (probe F10)', async () => {
  const { dir, configFile } = setup({});
  writeFileSync(configFile, yaml.dump(loopbackConfig(dir)));
  const { server } = await startServe(dir, configFile); // the second one asks for other ports (0): only the lock stops it
  const { status, stderr } = await failingServe(configFile);
  expect(status).toBe(1);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr.trim()).toMatch(new RegExp(`^netboot: data directory .*data is in use by another netboot \\(pid ${server.pid}\\): .*\\[NB_ERR_STORE_LOCKED\\]$`));
  expect(statSync(join(dir, 'data')).mode & 0o777).toBe(0o700);
}, 30_000);
