import { afterEach, describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envNames, loadConfig, publicUrl } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/fixtures.js';

const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

function file(text: string): string {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir.path, 'netboot.yaml');
  writeFileSync(path, text);
  return path;
}

const dhcpYaml = `
dhcp:
  enabled: true
  serverAddress: 10.213.0.1
  subnet: 10.213.0.0/24
  pool: { start: 10.213.0.100, end: 10.213.0.199 }
`;

describe('config', () => {
  test('defaults fill every section; the result is frozen', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(80);
    expect(config.dataDir).toBe('/var/lib/netboot');
    expect(config.images.enlist).toBe('micro');
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  test('file < env < flags, env names derived from the schema', () => {
    const config = loadConfig({
      file: file(`${dhcpYaml}http: { port: 8080 }\n`),
      env: { NETBOOT_HTTP_PORT: '8081', NETBOOT_DHCP_SERVER_ADDRESS: '10.213.0.2', NETBOOT_DHCP_DNS: '1.1.1.1,9.9.9.9', NETBOOT_CACHE_DIR: '/x' },
      overrides: { 'http.port': 8082 },
    });
    expect(config.http.port).toBe(8082);
    expect(config.dhcp?.serverAddress).toBe('10.213.0.2');
    expect(config.dhcp?.dns).toEqual(['1.1.1.1', '9.9.9.9']);
    expect(config.dhcp?.leaseTime).toBe(3600);
    expect(envNames().get('NETBOOT_DHCP_POOL_START')).toEqual(['dhcp', 'pool', 'start']);
  });

  test.each([
    ['an unknown key', 'htp: { port: 1 }\n', /htp/],
    ['a bad address', dhcpYaml.replace('10.213.0.1', '10.213.0.300'), /serverAddress/],
    ['a port out of range', 'http: { port: 70000 }\n', /port/],
    ['invalid YAML', 'http: [\n', /not valid YAML/],
    ['a list at the top', '- a\n', /must be a YAML mapping/],
  ])('rejects %s with a clear error', (_name, text, message) => {
    expect(() => loadConfig({ file: file(text) })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(text) })).toThrow(message);
  });

  test('cloudInit.apt: http(s) URLs for the deployed systems\' package sources; anything else is refused', () => {
    const config = loadConfig({ file: file('cloudInit:\n  apt: { mirror: "http://mirror.lab/debian", proxy: "http://proxy.lab:3128" }\n') });
    expect(config.cloudInit.apt).toEqual({ mirror: 'http://mirror.lab/debian', proxy: 'http://proxy.lab:3128' });
    expect(loadConfig({}).cloudInit.apt).toEqual({});
    expect(() => loadConfig({ file: file('cloudInit:\n  apt: { mirror: "ftp://mirror.lab/debian" }\n') })).toThrow(/apt\/mirror/);
  });

  test('a missing file names the file', () => {
    expect(() => loadConfig({ file: '/nonexistent/netboot.yaml' })).toThrow(/cannot read config file \/nonexistent/);
  });

  test('publicUrl comes from the DHCP address, port 80 implicit', () => {
    expect(publicUrl(loadConfig({ file: file(dhcpYaml) }))).toBe('http://10.213.0.1');
    expect(publicUrl(loadConfig({ file: file(`${dhcpYaml}http: { port: 8080 }\n`) }))).toBe('http://10.213.0.1:8080');
    expect(() => publicUrl(loadConfig({}))).toThrow(/publicUrl is required/);
  });
});

describe('bmc section', () => {
  test('commissioning creates BMC user netboot unless told otherwise; a name IPMI cannot hold is refused', () => {
    expect(loadConfig({}).bmc).toEqual({ createUser: true, username: 'netboot' });
    expect(loadConfig({ env: { NETBOOT_BMC_CREATE_USER: 'false', NETBOOT_BMC_USERNAME: 'ops.admin' } }).bmc).toEqual({ createUser: false, username: 'ops.admin' });
    expect(() => loadConfig({ file: file('bmc: { username: "seventeen-chars-x" }\n') })).toThrow(/bmc\/username/);
    expect(() => loadConfig({ file: file('bmc: { username: "a b" }\n') })).toThrow(ConfigError);
  });
});

describe('events section', () => {
  test('DHCP events are kept 30 days unless told otherwise; 0 keeps them for ever; negative is refused', () => {
    expect(loadConfig({}).events.dhcpRetentionDays).toBe(30);
    expect(loadConfig({ env: { NETBOOT_EVENTS_DHCP_RETENTION_DAYS: '0' } }).events.dhcpRetentionDays).toBe(0);
    expect(loadConfig({ file: file('events: { dhcpRetentionDays: 7 }\n') }).events.dhcpRetentionDays).toBe(7);
    expect(() => loadConfig({ file: file('events: { dhcpRetentionDays: -1 }\n') })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file('events: { dhcpRetentionDays: -1 }\n') })).toThrow(/events\/dhcpRetentionDays|events\.dhcpRetentionDays/);
  });

  test('an operator token shorter than 24 characters is refused, without echoing it', () => {
    const short = 'aaaaaaaaaaaaaaaa'; // 16: accepted before (probe F12)
    expect(() => loadConfig({ env: { NETBOOT_API_TOKEN: short } })).toThrow(/\/api\/token: .*24.*value not shown: use a random string/);
    let message = '';
    try {
      loadConfig({ env: { NETBOOT_API_TOKEN: short } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain(short);
    expect(loadConfig({ env: { NETBOOT_API_TOKEN: 'b'.repeat(24) } }).api.token).toBe('b'.repeat(24));
  });
});
