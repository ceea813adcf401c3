// The micro rootfs script runner (images/micro/rootfs/runner), run under the busybox it boots with
// (--no-poweroff: it exits where the VM would power off) against a local stand-in for the appliance:
// download of the scripts tar, each script's run (order, exit codes, timeouts, output capture,
// parameters), each posted result, the "finished" call, and bounded retries when the server fails.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from './fixtures.js';
import { b64, MachineApi, scriptsTar, tarOf, TOKEN, type BundleScript } from './machine-api.js';

const runner = resolve(dirname(fileURLToPath(import.meta.url)), '../../images/micro/rootfs/runner');
const hasBusybox = spawnSync('busybox', ['true']).status === 0;
const MAC = '52:54:00:12:34:56';

let tmp: ReturnType<typeof tempDir>;
let api: MachineApi;
beforeEach(async () => {
  tmp = tempDir('runner');
  api = await MachineApi.start();
});
afterEach(async () => {
  await api.close();
  tmp.remove();
});

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

/** Runs the runner to its end; the environment is what the initrd's env file would give. */
function runRunner(env: Record<string, string | undefined> = {}, mode = '--no-poweroff'): Promise<Run> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('busybox', ['sh', runner, mode], {
      env: {
        PATH: process.env.PATH,
        NETBOOT_ENV_FILE: join(tmp.path, 'no-env-file'),
        NETBOOT_RUNNER_DIR: join(tmp.path, 'work'),
        NETBOOT_URL: api.url,
        NETBOOT_TOKEN: TOKEN,
        NETBOOT_PHASE: 'commissioning',
        NETBOOT_BOOT_MAC: MAC,
        NETBOOT_RETRY_DELAY: '0.05',
        NETBOOT_HTTP_ATTEMPTS: '3',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`runner did not finish:\n${stdout}\n${stderr}`)); }, 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const sh = (body: string): string => `#!/bin/sh\n${body}\n`;
/** A tar with only this index.tsv (the scripts it names are missing: nothing may run). */
const indexOnly = (index: string): Promise<Buffer> => tarOf({ 'index.tsv': index, 'scripts/ok': sh('exit 0') }, new Set(['scripts/ok']));
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe.skipIf(!hasBusybox)('runner (busybox sh)', () => {
  test('runs every script in order, posts each result, then finished', async () => {
    const scripts: BundleScript[] = [
      {
        name: '00-first', timeout: 30, env: { GREETING: `it's "quoted" $HOME \\ ok`, COUNT: '3' },
        content: sh([
          // Listed into the working folder first: `>` would create the file before ls runs.
          'ls -A "$NETBOOT_OUTPUT_DIR" >listing && mv listing "$NETBOOT_OUTPUT_DIR/listing"',
          'echo "hello from $0"',
          'echo "warn" >&2',
          'printf "%s" "$GREETING" >"$NETBOOT_OUTPUT_DIR/greeting.txt"',
          'env | grep -E "^(NETBOOT_(URL|TOKEN|PHASE|BOOT_MAC)|COUNT)=" | sort >"$NETBOOT_OUTPUT_DIR/env.txt"',
          'touch "$NETBOOT_OUTPUT_DIR/empty"',
          'pwd >"$NETBOOT_OUTPUT_DIR/cwd"',
          'cat "$(dirname "$0")/data.bin"', // stdout with every byte value: base64 must round-trip
        ].join('\n')),
      },
      { name: '10-fails', timeout: 30, content: sh('echo "about to fail"; echo "disk on fire" >&2; exit 3') },
      {
        name: '20-second-output-dir', timeout: 30,
        content: sh('ls -A "$NETBOOT_OUTPUT_DIR" >listing && mv listing "$NETBOOT_OUTPUT_DIR/listing"; echo "[$COUNT]"'),
      },
    ];
    const data = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    api.tar = await scriptsTar(scripts, { 'scripts/data.bin': data });

    const run = await runRunner();
    expect(run.code, run.stdout + run.stderr).toBe(0);

    const scriptsGet = api.to('/api/v1/machine/scripts');
    expect(scriptsGet).toHaveLength(1);
    expect(scriptsGet[0]!.url).toBe('/api/v1/machine/scripts?phase=commissioning');
    expect(scriptsGet[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);

    // Order on the wire: scripts, the results in index order, finished last.
    expect(api.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'GET /api/v1/machine/scripts',
      'POST /api/v1/machine/results', 'POST /api/v1/machine/results', 'POST /api/v1/machine/results',
      'POST /api/v1/machine/finished',
    ]);
    for (const r of api.requests.filter((x) => x.method === 'POST')) {
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(r.headers['content-type']).toBe('application/json');
    }
    const results = api.results();
    expect(results.map((r) => r.name)).toEqual(['00-first', '10-fails', '20-second-output-dir']);
    for (const r of results) {
      expect(Object.keys(r).sort()).toEqual(['durationMs', 'exitCode', 'files', 'name', 'phase', 'stderr', 'stdout', 'timedOut']);
      expect(r.phase).toBe('commissioning');
      expect(r.timedOut).toBe(false);
      expect(Number.isInteger(r.durationMs)).toBe(true);
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r.durationMs).toBeLessThan(10_000);
    }

    const [first, fails, second] = results as [typeof results[0], typeof results[0], typeof results[0]];
    expect(first.exitCode).toBe(0);
    const out = b64(first.stdout);
    const hello = Buffer.from(`hello from ${join(tmp.path, 'work', 'scripts', 'scripts', '00-first')}\n`);
    expect(out.subarray(0, hello.length).toString()).toBe(hello.toString());
    expect(out.subarray(hello.length)).toEqual(data);
    expect(b64(first.stderr).toString()).toBe('warn\n');
    expect(Object.keys(first.files).sort()).toEqual(['cwd', 'empty', 'env.txt', 'greeting.txt', 'listing']);
    expect(b64(first.files['greeting.txt']!).toString()).toBe(`it's "quoted" $HOME \\ ok`);
    expect(b64(first.files['env.txt']!).toString()).toBe([
      'COUNT=3', `NETBOOT_BOOT_MAC=${MAC}`, 'NETBOOT_PHASE=commissioning', `NETBOOT_TOKEN=${TOKEN}`, `NETBOOT_URL=${api.url}`, '',
    ].join('\n'));
    expect(b64(first.files['listing']!).toString()).toBe(''); // a fresh, empty output folder
    expect(first.files['empty']).toBe('');
    expect(b64(first.files['cwd']!).toString()).not.toContain('/output');

    expect(fails.exitCode).toBe(3);
    expect(b64(fails.stdout).toString()).toBe('about to fail\n');
    expect(b64(fails.stderr).toString()).toBe('disk on fire\n');
    expect(fails.files).toEqual({});

    // Each script gets its own empty output folder, and another script's parameters are not set.
    expect(second.exitCode).toBe(0);
    expect(b64(second.files['listing']!).toString()).toBe('');
    expect(b64(second.stdout).toString()).toBe('[]\n');

    expect(JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString())).toEqual({ phase: 'commissioning' });

    // Console markers, in order.
    const markers = run.stdout.split('\n').filter((l) => /^netboot-runner: (running|\S+ exit|finished)/.test(l));
    expect(markers.map((l) => l.replace(/\d+ ms/, 'N ms'))).toEqual([
      'netboot-runner: running 00-first', 'netboot-runner: 00-first exit 0 in N ms',
      'netboot-runner: running 10-fails', 'netboot-runner: 10-fails exit 3 in N ms',
      'netboot-runner: running 20-second-output-dir', 'netboot-runner: 20-second-output-dir exit 0 in N ms',
      'netboot-runner: finished commissioning: 3 scripts, 1 failed',
    ]);
    expect(run.stdout).toContain('netboot-runner:   10-fails: disk on fire');
  });

  test('kills a script at its timeout with everything it started, and goes on', async () => {
    const pidFile = join(tmp.path, 'child.pid');
    api.tar = await scriptsTar([
      {
        name: 'slow', timeout: 1,
        content: sh(`echo started\nsleep 60 &\necho $! >"${pidFile}"\necho partial >"$NETBOOT_OUTPUT_DIR/partial.txt"\nsleep 60`),
      },
      // Ignores SIGTERM (and so does its sleep, which inherits the ignored signal): SIGKILL 2 s later.
      { name: 'stubborn', timeout: 1, content: sh("trap '' TERM\necho stubborn\nsleep 60") },
      { name: 'after', timeout: 5, content: sh('echo still running') },
    ]);
    const run = await runRunner();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [slow, stubborn, after] = api.results();
    expect(slow).toMatchObject({ name: 'slow', timedOut: true, exitCode: 143 });
    expect(slow!.durationMs).toBeGreaterThanOrEqual(1000);
    expect(slow!.durationMs).toBeLessThan(4000);
    expect(b64(slow!.stdout).toString()).toBe('started\n');
    expect(b64(slow!.files['partial.txt']!).toString()).toBe('partial\n');
    // The background sleep was in the script's process group: killed with it.
    const child = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(child)).toBe(false);

    expect(stubborn).toMatchObject({ name: 'stubborn', timedOut: true, exitCode: 137 });
    expect(stubborn!.durationMs).toBeGreaterThanOrEqual(3000);
    expect(stubborn!.durationMs).toBeLessThan(6000);

    expect(after).toMatchObject({ name: 'after', timedOut: false, exitCode: 0 });
    expect(b64(after!.stdout).toString()).toBe('still running\n');
    expect(run.stdout).toMatch(/netboot-runner: slow timed out after 1 s, exit 143 in \d+ ms/);
    expect(run.stdout).toContain('netboot-runner: finished commissioning: 3 scripts, 2 failed');
  });

  test('caps stdout, stderr and files, renames odd file names, skips folders and symlinks', async () => {
    api.tar = await scriptsTar([{
      name: 'chatty', timeout: 30,
      content: sh([
        // 1.5 MB on stdout: the script must not die of SIGPIPE after the first MiB.
        'yes 0123456789abcdef | head -c 1500000',
        'yes err | head -c 1200000 >&2',
        'yes 0123456789abcdef | head -c 5000000 >"$NETBOOT_OUTPUT_DIR/big.txt"',
        'echo x >"$NETBOOT_OUTPUT_DIR/a b!.txt"',
        'echo h >"$NETBOOT_OUTPUT_DIR/.hidden"',
        'mkdir "$NETBOOT_OUTPUT_DIR/sub" && echo y >"$NETBOOT_OUTPUT_DIR/sub/inner"',
        'ln -s /etc/hostname "$NETBOOT_OUTPUT_DIR/link"',
        'exit 0',
      ].join('\n')),
    }]);
    const run = await runRunner();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const [r] = api.results();
    expect(r!.exitCode).toBe(0);
    // Compared as digests: a failing toEqual on MiB-sized buffers spends minutes printing a diff.
    const pattern = Buffer.from('0123456789abcdef\n'.repeat(300_000));
    const digest = (buf: Buffer): string => `${buf.length} bytes, sha256 ${createHash('sha256').update(buf).digest('hex')}`;
    expect(digest(b64(r!.stdout))).toBe(digest(pattern.subarray(0, 1_048_576)));
    expect(digest(b64(r!.stderr))).toBe(digest(Buffer.from('err\n'.repeat(300_000)).subarray(0, 1_048_576)));
    expect(Object.keys(r!.files).sort()).toEqual(['.hidden', 'a_b_.txt', 'big.txt']);
    expect(digest(b64(r!.files['big.txt']!))).toBe(digest(pattern.subarray(0, 4_194_304)));
    expect(b64(r!.files['a_b_.txt']!).toString()).toBe('x\n');
    expect(run.stderr).toContain('chatty: output file big.txt cut to its first 4194304 bytes');
  });

  test('phase testing, parameters from the initrd env file', async () => {
    api.tar = await scriptsTar([{ name: 'one', timeout: 10, content: sh('echo "$NETBOOT_PHASE"') }]);
    const envFile = join(tmp.path, 'env');
    // As the initrd writes it: every netboot.* argument, shell-quoted.
    writeFileSync(envFile, [
      `NETBOOT_ROOTFS='${api.url}/files/abc'`, `NETBOOT_URL='${api.url}/'`, `NETBOOT_TOKEN='${TOKEN}'`,
      "NETBOOT_PHASE='testing'", "NETBOOT_BOOT_IF='eth0'", `NETBOOT_BOOT_MAC='${MAC}'`, '',
    ].join('\n'));
    const run = await runRunner({ NETBOOT_ENV_FILE: envFile, NETBOOT_URL: undefined, NETBOOT_TOKEN: undefined, NETBOOT_PHASE: undefined });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(api.to('/api/v1/machine/scripts')[0]!.url).toBe('/api/v1/machine/scripts?phase=testing');
    expect(api.results()).toMatchObject([{ phase: 'testing', name: 'one', exitCode: 0 }]);
    expect(b64(api.results()[0]!.stdout).toString()).toBe('testing\n');
    expect(JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString())).toEqual({ phase: 'testing' });
  });

  test('no scripts: finished at once', async () => {
    api.tar = await scriptsTar([]);
    const run = await runRunner();
    expect(run.code).toBe(0);
    expect(api.requests.map((r) => r.url.split('?')[0])).toEqual(['/api/v1/machine/scripts', '/api/v1/machine/finished']);
    expect(run.stdout).toContain('netboot-runner: finished commissioning: 0 scripts, 0 failed');
  });

  test('a result the server fails to take is retried a bounded number of times; the run goes on', async () => {
    api.tar = await scriptsTar([
      { name: 'a', timeout: 10, content: sh('exit 0') },
      { name: 'b', timeout: 10, content: sh('exit 1') },
    ]);
    api.answers.set('/api/v1/machine/results', () => ({ status: 503, body: 'busy' }));
    const run = await runRunner();
    expect(run.code).toBe(0); // finished went through: the server decides what missing results mean
    expect(api.requests.map((r) => r.url.split('?')[0])).toEqual([
      '/api/v1/machine/scripts',
      ...Array(3).fill('/api/v1/machine/results'), ...Array(3).fill('/api/v1/machine/results'),
      '/api/v1/machine/finished',
    ]);
    expect(api.results().map((r) => r.name)).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
    expect(run.stdout).toContain('netboot-runner: a result NOT posted');
  });

  test('a 4xx answer is final: no retry', async () => {
    api.tar = await scriptsTar([{ name: 'a', timeout: 10, content: sh('exit 0') }]);
    api.answers.set('/api/v1/machine/results', () => ({ status: 409, body: 'not running' }));
    const run = await runRunner();
    expect(run.code).toBe(0);
    expect(api.to('/api/v1/machine/results')).toHaveLength(1);
  });

  test('scripts download fails: bounded retries, then finished with the error', async () => {
    api.answers.set('/api/v1/machine/scripts', () => ({ status: 500, body: 'oops' }));
    const run = await runRunner();
    expect(run.code).toBe(1);
    expect(api.to('/api/v1/machine/scripts')).toHaveLength(3);
    const finished = api.to('/api/v1/machine/finished');
    expect(finished).toHaveLength(1);
    const body = JSON.parse(finished[0]!.body.toString()) as { phase: string; error: string };
    expect(body.phase).toBe('commissioning');
    expect(body.error).toMatch(/^could not download the commissioning scripts: .*500/);
    expect(api.to('/api/v1/machine/results')).toHaveLength(0);
    expect(run.stdout).toContain('netboot-runner: FAILED: could not download the commissioning scripts');
  });

  test.each([
    ['not a tar', async () => Buffer.from('<html>proxy error</html>\n'.repeat(40)), /scripts tar is unreadable/],
    ['no index.tsv', () => tarOf({ 'other.txt': 'x' }), /has no index\.tsv/],
    ['a bad name', () => indexOnly('bad name\t10\tscripts/x\n'), /index\.tsv line 1: bad script name/],
    ['a path outside the tar', () => indexOnly('ok\t10\tscripts/ok\nevil\t10\t../../etc/passwd\n'), /index\.tsv line 2: bad path/],
    ['an absolute path', () => indexOnly('evil\t10\t/bin/sh\n'), /index\.tsv line 1: bad path/],
    ['a bad timeout', () => indexOnly('ok\t0\tscripts/ok\n'), /index\.tsv line 1: bad timeout/],
    ['two fields', () => indexOnly('ok\tscripts/ok\n'), /index\.tsv line 1: not name TAB timeout TAB path/],
  ])('%s: finished with an error, nothing runs', async (_label, tar, error) => {
    api.tar = await tar();
    const run = await runRunner();
    expect(run.code).toBe(1);
    expect(api.to('/api/v1/machine/results')).toHaveLength(0);
    const body = JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString()) as { error: string };
    expect(body.error).toMatch(error);
  });

  test('finished fails: bounded retries, exit 1', async () => {
    api.tar = await scriptsTar([]);
    api.answers.set('/api/v1/machine/finished', () => ({ status: 502 }));
    const run = await runRunner();
    expect(run.code).toBe(1);
    expect(api.to('/api/v1/machine/finished')).toHaveLength(3);
    expect(run.stdout).toContain('netboot-runner: FAILED: could not report the end of commissioning');
  });

  test('no server at all: every loop ends', async () => {
    await api.close();
    const run = await runRunner({ NETBOOT_URL: 'http://127.0.0.1:1' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAILED: could not download the commissioning scripts');
    expect(run.stdout).toContain('FAILED: could not report the end of commissioning');
    api = await MachineApi.start(); // for afterEach
  });

  test('without URL or token nothing can be reported: exit 1 at once', async () => {
    for (const missing of ['NETBOOT_URL', 'NETBOOT_TOKEN']) {
      const run = await runRunner({ [missing]: undefined });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/netboot-runner: FAILED: no netboot\.(url|token)=/);
    }
    expect(api.requests).toHaveLength(0);
  });

  test('an unknown phase is reported as an error', async () => {
    const run = await runRunner({ NETBOOT_PHASE: 'deploy"x' });
    expect(run.code).toBe(1);
    expect(api.to('/api/v1/machine/scripts')).toHaveLength(0);
    const body = JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString()) as { phase: string; error: string };
    expect(body.phase).toBe('deploy_x');
    expect(body.error).toMatch(/^unknown phase/);
  });

  test('the work folder is reused cleanly by a second run', async () => {
    api.tar = await scriptsTar([{ name: 'a', timeout: 10, content: sh('echo one') }]);
    await runRunner();
    api.tar = await scriptsTar([{ name: 'b', timeout: 10, content: sh('echo two') }]);
    const run = await runRunner();
    expect(run.code).toBe(0);
    expect(api.results().map((r) => r.name)).toEqual(['a', 'b']);
    expect(existsSync(join(tmp.path, 'work', 'scripts', 'scripts', 'a'))).toBe(false);
  });

  describe('under cloud-init: --defer-finished, then --post-finished (netboot-finished.service)', () => {
    test('the run leaves finished to the unit, which posts it after cloud-init', async () => {
      api.tar = await scriptsTar([{ name: 'a', timeout: 10, content: sh('exit 3') }]);
      const run = await runRunner({}, '--defer-finished');
      expect(run.code).toBe(0);
      expect(api.results().map((r) => [r.name, r.exitCode])).toEqual([['a', 3]]);
      expect(api.to('/api/v1/machine/finished')).toHaveLength(0);
      expect(run.stdout).toContain("netboot-runner: done commissioning: 1 scripts, 1 failed; finished is posted after cloud-init's last stage");
      const post = await runRunner({}, '--post-finished');
      expect(post.code).toBe(0);
      expect(api.requests.map((r) => r.url.split('?')[0])).toEqual(['/api/v1/machine/scripts', '/api/v1/machine/results', '/api/v1/machine/finished']);
      expect(JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString())).toEqual({ phase: 'commissioning' });
      expect(post.stdout).toContain('netboot-runner: finished commissioning posted');
    });

    test('a runner error is kept for the unit too', async () => {
      api.answers.set('/api/v1/machine/scripts', () => ({ status: 404 }));
      expect((await runRunner({}, '--defer-finished')).code).toBe(1);
      expect(api.to('/api/v1/machine/finished')).toHaveLength(0);
      await runRunner({}, '--post-finished');
      const body = JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString()) as { error: string };
      expect(body.error).toMatch(/^could not download the commissioning scripts/);
    });

    test('when the runner part never ran, the unit reports that as the phase error at once', async () => {
      const post = await runRunner({}, '--post-finished');
      expect(post.code).toBe(1);
      expect(api.requests.map((r) => r.url)).toEqual(['/api/v1/machine/finished']);
      const body = JSON.parse(api.to('/api/v1/machine/finished')[0]!.body.toString()) as { phase: string; error: string };
      expect(body).toEqual({ phase: 'commissioning', error: expect.stringMatching(/^cloud-init did not run the netboot runner part of user-data/) as string });
    });
  });
});
