// IPv6 Router Advertisements of the boot interface (issue 17, src/router-advert.ts): the messages
// and config without a network; then, as root, in namespaces of our own (test/interop/support:
// the lab's bridge br0 in a server namespace, one client namespace on it), the advertiser against
// Debian's rdisc6 (a real RS, the RA it prints) and beside Debian's radvd (another router).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { routerAdvertInterface } from '../src/config/derived.js';
import { ConfigError } from '../src/errors.js';
import { configuresIpv6, parseAdvertisement, routerAdvertisement, routerAdvertUnavailable, validSolicitation } from '../src/router-advert.js';
import { createBootNetwork, missingPrerequisites, type BootNetwork } from './interop/support/namespaces.js';
import { startAppliance } from './interop/support/appliance.js';
import { tempDir } from './support/fixtures.js';

describe('messages', () => {
  test('the RA: type 134, code 0, router lifetime 0, M=0 O=0, no prefix, our MAC as the only option', () => {
    const ra = routerAdvertisement('02:6e:62:00:00:aa');
    expect(ra.toString('hex')).toBe(`8600000000000000${'00'.repeat(8)}0101026e620000aa`);
    expect(parseAdvertisement({ data: ra, hopLimit: 255, source: 'fe80::1' })).toEqual({ routerLifetime: 0, managed: false, other: false, prefixes: [] });
    expect(routerAdvertisement().length).toBe(16);
  });

  test('an RA with a lifetime and a prefix is understood; one failing RFC 4861 §6.1.2 is not', () => {
    const ra = Buffer.concat([routerAdvertisement(), Buffer.alloc(32)]);
    ra.writeUInt16BE(1800, 6);
    ra[5] = 0x80; // M
    ra[16] = 3; ra[17] = 4; ra[18] = 64; // Prefix Information, 2001:db8:1::/64
    Buffer.from('20010db8000100000000000000000000', 'hex').copy(ra, 32);
    expect(parseAdvertisement({ data: ra, hopLimit: 255, source: 'fe80::2' })).toEqual({ routerLifetime: 1800, managed: true, other: false, prefixes: ['2001:db8:1::/64'] });
    expect(parseAdvertisement({ data: ra, hopLimit: 64, source: 'fe80::2' })).toBeUndefined(); // forwarded: off-link
    expect(parseAdvertisement({ data: ra, hopLimit: 255, source: '2001:db8::2' })).toBeUndefined(); // not link-local
    const zeroLengthOption = Buffer.from(ra);
    zeroLengthOption[17] = 0;
    expect(parseAdvertisement({ data: zeroLengthOption, hopLimit: 255, source: 'fe80::2' })).toBeUndefined();
  });

  test('an RA configures IPv6 (another router owns the segment) with a lifetime, a prefix, M or O', () => {
    const none = { routerLifetime: 0, managed: false, other: false, prefixes: [] };
    expect(configuresIpv6(none)).toBe(false); // ours, or another netboot's
    expect(configuresIpv6({ ...none, routerLifetime: 1 })).toBe(true);
    expect(configuresIpv6({ ...none, prefixes: ['2001:db8::/64'] })).toBe(true);
    expect(configuresIpv6({ ...none, managed: true })).toBe(true);
    expect(configuresIpv6({ ...none, other: true })).toBe(true);
  });

  test('RS checks of RFC 4861 §6.1.1', () => {
    const rs = Buffer.from('8500000000000000', 'hex');
    const withSlla = Buffer.concat([rs, Buffer.from('0101026e62000001', 'hex')]);
    expect(validSolicitation({ data: rs, hopLimit: 255, source: '::' })).toBe(true);
    expect(validSolicitation({ data: withSlla, hopLimit: 255, source: 'fe80::5' })).toBe(true);
    expect(validSolicitation({ data: withSlla, hopLimit: 255, source: '::' })).toBe(false); // SLLA from ::
    expect(validSolicitation({ data: rs, hopLimit: 254, source: 'fe80::5' })).toBe(false);
    expect(validSolicitation({ data: rs.subarray(0, 6), hopLimit: 255, source: 'fe80::5' })).toBe(false);
  });
});

describe('config', () => {
  const dhcp = { enabled: true, serverAddress: '10.213.0.1', subnet: '10.213.0.0/24', interface: 'br0' };
  const load = (overrides: Record<string, unknown>) => loadConfig({ overrides: structuredClone(overrides) }); // it freezes what it is given

  test('auto: on in full DHCP mode, off in proxy mode; a switch for both; on dhcp.interface only', () => {
    expect(load({ dhcp }).ipv6RouterAdvert).toEqual({ enabled: 'auto', intervalSeconds: 600 });
    expect(routerAdvertInterface(load({ dhcp }))).toBe('br0');
    expect(routerAdvertInterface(load({ dhcp: { ...dhcp, mode: 'proxy' } }))).toBeUndefined();
    expect(routerAdvertInterface(load({ dhcp: { ...dhcp, mode: 'proxy' }, 'ipv6RouterAdvert.enabled': true }))).toBe('br0');
    expect(routerAdvertInterface(load({ dhcp, 'ipv6RouterAdvert.enabled': false }))).toBeUndefined();
    expect(routerAdvertInterface(load({}))).toBeUndefined();
    expect(routerAdvertInterface(loadConfig({ overrides: { dhcp: { ...dhcp } }, env: { NETBOOT_IPV6_ROUTER_ADVERT_ENABLED: 'false' } }))).toBeUndefined();
  });

  test('no dhcp.interface: a warning when auto, an error when asked for', () => {
    const warnings: string[] = [];
    const noInterface = { ...dhcp, interface: undefined };
    expect(routerAdvertInterface(load({ dhcp: noInterface }), (m) => warnings.push(m))).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/dhcp.interface is not set/)]);
    expect(() => routerAdvertInterface(load({ dhcp: noInterface, 'ipv6RouterAdvert.enabled': true }))).toThrow(ConfigError);
    expect(() => load({ 'ipv6RouterAdvert.intervalSeconds': 2 })).toThrow(/intervalSeconds/);
  });
});

test('the icmp6_ra addon is built (else the appliance runs without RAs, with a warning)', () => {
  expect(routerAdvertUnavailable()).toBeUndefined();
});

const distModule = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'router-advert.js');
const skip = missingPrerequisites([
  { path: '/usr/bin/rdisc6', debianPackage: 'ndisc6' }, { path: '/usr/sbin/radvd', debianPackage: 'radvd' },
]) ?? (existsSync(distModule) ? undefined : `${distModule} is missing: npm run build`);

test.skipIf(!existsSync(distModule))('without the addon: a warning, no socket, and start() does not throw', () => {
  // dist's modules copied where no build/Release lies above them.
  const dir = tempDir('nb-ra-noaddon-');
  try {
    for (const name of ['router-advert.js', 'native-addon.js']) copyFileSync(join(dirname(distModule), name), join(dir.path, name));
    writeFileSync(join(dir.path, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir.path, 'run.mjs'), `
      import { RouterAdvertiser } from './router-advert.js';
      const warnings = [];
      const log = { child: () => log, debug() {}, info() {}, warn: (m) => warnings.push(m) };
      const advertiser = RouterAdvertiser.start({ interface: 'lo', intervalSeconds: 600, log });
      console.log(JSON.stringify({ warnings, status: advertiser.status() }));
      advertiser.close();
    `);
    const result = JSON.parse(execFileSync(process.execPath, [join(dir.path, 'run.mjs')], { encoding: 'utf8', timeout: 10_000 })) as { warnings: string[]; status: object };
    expect(result.warnings).toEqual([expect.stringMatching(/IPv6 router advertisements are off: the icmp6_ra addon is not built/)]);
    expect(result.status).toEqual({ advertising: false, quiet: false, sent: 0, solicitations: 0 });
  } finally {
    dir.cleanup();
  }
});

interface LogLine { level: string; msg: string; status: { advertising: boolean; quiet: boolean; sent: number; solicitations: number }; [key: string]: unknown }

describe.skipIf(skip !== undefined)(`on a boot network of namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let network: BootNetwork;
  const dir = tempDir('nb-ra-');
  const children: ChildProcess[] = [];
  beforeAll(() => {
    network = createBootNetwork('ra', '10.97.0.1', 24, 1);
  });
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    network?.destroy();
    dir.cleanup();
  });

  /** The fe80:: address of `dev` in `ns` once DAD has finished with it (RFC 4862 §5.4). */
  async function linkLocal(ns: string, dev: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const out = execFileSync('ip', ['-n', ns, '-j', '-6', 'addr', 'show', 'dev', dev, 'scope', 'link'], { encoding: 'utf8' });
      const info = (JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local: string; tentative?: boolean }> }>)
        .flatMap((l) => l.addr_info ?? []).find((a) => !a.tentative);
      if (info) return info.local;
      if (Date.now() > deadline) throw new Error(`${dev} in ${ns} has no usable link-local address after 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The advertiser on br0 of the server namespace, as the appliance starts it; logs as JSON lines. */
  function startAdvertiser(intervalSeconds: number): { child: ChildProcess; lines: LogLine[]; stop(): Promise<LogLine> } {
    const script = join(dir.path, 'advertiser.mjs');
    writeFileSync(script, `
      import { RouterAdvertiser } from ${JSON.stringify(distModule)};
      let advertiser;
      const line = (level) => (objOrMsg, msg) => console.log(JSON.stringify({
        level, ...(typeof objOrMsg === 'string' ? { msg: objOrMsg } : { ...objOrMsg, msg }), status: advertiser?.status(),
      }));
      const log = { child: () => log, debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
      advertiser = RouterAdvertiser.start({ interface: 'br0', intervalSeconds: ${intervalSeconds}, log });
      const keep = setInterval(() => {}, 1000);
      process.on('SIGTERM', () => {
        clearInterval(keep);
        advertiser.close();
        console.log(JSON.stringify({ level: 'exit', msg: 'stopped', status: advertiser.status() }));
      });
    `);
    const child = spawn('ip', ['netns', 'exec', network.server.name, process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines: LogLine[] = [];
    let rest = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as LogLine);
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return {
      child, lines,
      stop: async () => {
        child.kill('SIGTERM'); // ip netns exec execs node: this is node's PID
        await exited;
        const last = lines.at(-1)!;
        expect(last.level).toBe('exit');
        return last;
      },
    };
  }

  async function until(what: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!what() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  test('rdisc6 solicits and gets our RA: router lifetime 0, no prefix, M=0 O=0, from br0\'s link-local address', async () => {
    const client = network.clients[0]!;
    // intervalSeconds 600: the next unsolicited RA is 16 s after the first (RFC 4861 §6.2.4), so
    // what rdisc6 prints is the answer to its RS.
    const advertiser = startAdvertiser(600);
    const [ours] = await Promise.all([linkLocal(network.server.name, 'br0'), linkLocal(client.name, client.iface)]);
    await until(() => advertiser.lines.some((l) => l.status?.advertising), 10_000);
    // Past MIN_DELAY_BETWEEN_RAS (3 s) after the RA sent at start, so the answer is not held back.
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const started = Date.now();
    const output = execFileSync('ip', ['netns', 'exec', client.name, 'rdisc6', '-1', '-n', '-r', '3', '-w', '1500', client.iface], { encoding: 'utf8', timeout: 15_000 });
    const answeredMs = Date.now() - started;
    // The client's kernel took it as a router's (hop limit 255, §6.1.2): our address is a router neighbour.
    const neighbours = execFileSync('ip', ['-n', client.name, '-6', 'neigh', 'show', 'dev', client.iface], { encoding: 'utf8' });
    const stopped = await advertiser.stop();
    expect(neighbours).toMatch(new RegExp(`^${ours} lladdr \\S+ router`, 'm'));
    expect(answeredMs).toBeLessThan(2000); // 0-500 ms (§6.2.6) and rdisc6's start
    expect(output).toMatch(/Router lifetime\s*:\s*0 \(0x00000000\) seconds/);
    expect(output).toMatch(/Stateful address conf\.\s*:\s*No/);
    expect(output).toMatch(/Stateful other conf\.\s*:\s*No/);
    expect(output).not.toMatch(/Prefix/);
    expect(output).toMatch(new RegExp(` from ${ours.replace(/\./g, '\\.')}`));
    expect(output).toMatch(/Source link-layer address/);
    expect(stopped.status.solicitations, output).toBeGreaterThanOrEqual(1);
    expect(stopped.status.sent).toBe(2); // the unsolicited one at start, the answer
    expect(advertiser.lines.filter((l) => l.level === 'warn' && /another IPv6 router/.test(l.msg))).toEqual([]);
    console.log(`RS -> RA: ${answeredMs} ms (RFC 4861 §6.2.6 delay 0-500 ms, at most one RA per 3 s)`);
  }, 40_000);

  test('`netboot serve` in full DHCP mode advertises on dhcp.interface (br0) by default', async () => {
    const client = network.clients[0]!;
    const setup = { dir: join(dir.path, 'serve'), serverAddress: '10.97.0.1', subnet: '10.97.0.0/24', pool: { start: '10.97.0.100', end: '10.97.0.199' }, leaseTime: 600 };
    mkdirSync(join(setup.dir, 'images'), { recursive: true });
    const serve = await startAppliance(network.server, setup);
    try {
      await serve.waitFor(/sending IPv6 router advertisements/, 10_000, 'the router advertiser');
      const output = execFileSync('ip', ['netns', 'exec', client.name, 'rdisc6', '-1', '-n', '-r', '3', '-w', '1500', client.iface], { encoding: 'utf8', timeout: 15_000 });
      expect(output).toMatch(/Router lifetime\s*:\s*0 \(0x00000000\) seconds/);
      expect(output).toMatch(new RegExp(` from ${await linkLocal(network.server.name, 'br0')}`));
    } finally {
      await serve.stop(5000);
    }
  }, 60_000);

  test('beside radvd advertising a prefix: the advertiser logs that router once and sends nothing more', async () => {
    const client = network.clients[0]!;
    const theirs = await linkLocal(client.name, client.iface);
    // A router's config: forwarding on (radvd warns otherwise), lifetime and prefix, RAs every 3-4 s.
    execFileSync('ip', ['netns', 'exec', client.name, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    const conf = join(dir.path, 'radvd.conf');
    writeFileSync(conf, `interface ${client.iface} {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 1800;\n  prefix 2001:db8:97::/64 { };\n};\n`);
    const radvd = spawn('ip', ['netns', 'exec', client.name, '/usr/sbin/radvd', '-n', '-m', 'stderr', '-C', conf, '-p', join(dir.path, 'radvd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(radvd);
    let radvdLog = '';
    radvd.stderr!.on('data', (chunk: Buffer) => { radvdLog += chunk.toString(); });
    const radvdExited = new Promise<void>((resolve) => radvd.on('exit', () => resolve()));
    try {
      const advertiser = startAdvertiser(4);
      const heard = () => advertiser.lines.filter((l) => /another IPv6 router/.test(l.msg));
      await until(() => heard().length > 0, 20_000);
      // Two more of radvd's RAs (every 3-4 s) go by: still one log line, and nothing sent since.
      await new Promise((resolve) => setTimeout(resolve, 8000));
      const stopped = await advertiser.stop();
      expect(heard(), radvdLog).toHaveLength(1);
      const [line] = heard();
      expect(line).toMatchObject({ level: 'warn', router: theirs, routerLifetime: 1800, prefixes: ['2001:db8:97::/64'] });
      expect(line!.status.quiet).toBe(true);
      expect(stopped.status).toMatchObject({ quiet: true, advertising: false, sent: line!.status.sent });
    } finally {
      radvd.kill('SIGTERM'); // by PID: ip netns exec execs radvd
      await radvdExited;
    }
  }, 60_000);
});
