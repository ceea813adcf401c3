// `--power` with the driver flags (src/cli/power-options.ts): the settings they mean, where the
// password may come from (a file, the environment, the flag), and errors that never quote a secret.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parsePowerOption } from '../../src/cli/power-options.js';
import { ipmiSettingsFromCommissioning, powerSettingsWarnings, publicPowerSettings } from '../../src/power/index.js';
import { tempDir } from '../support/fixtures.js';

const dir = tempDir('nb-power-cli-');
afterAll(() => dir.cleanup());

describe('--power and its flags', () => {
  test('ipmi: address in --power or --address, port and cipher suite as numbers', () => {
    expect(parsePowerOption('ipmi:10.0.0.5:6230', { user: 'netboot', password: 'pw', cipherSuite: '17' })).toEqual({
      type: 'ipmi', address: '10.0.0.5', port: 6230, user: 'netboot', password: 'pw', cipherSuite: 17,
    });
    expect(parsePowerOption('ipmi', { address: 'bmc7.example', user: 'netboot', password: 'pw', privilege: 'administrator' })).toEqual({
      type: 'ipmi', address: 'bmc7.example', user: 'netboot', password: 'pw', privilege: 'administrator',
    });
    expect(parsePowerOption('ipmi:[fd00::5]:623', { user: 'u', password: 'p' })).toMatchObject({ address: 'fd00::5', port: 623 });
  });

  test('the password from --password-file (first line, CR stripped) or NETBOOT_BMC_PASSWORD', () => {
    const file = join(dir.path, 'pw');
    writeFileSync(file, 'from-file\r\nsecond line\n');
    expect(parsePowerOption('ipmi:10.0.0.5', { user: 'u', passwordFile: file }, { NETBOOT_BMC_PASSWORD: 'from-env' })).toMatchObject({ password: 'from-file' });
    expect(parsePowerOption('ipmi:10.0.0.5', { user: 'u' }, { NETBOOT_BMC_PASSWORD: 'from-env' })).toMatchObject({ password: 'from-env' });
    expect(parsePowerOption('manual', {}, { NETBOOT_BMC_PASSWORD: 'from-env' })).toEqual({ type: 'manual' });
  });

  test('redfish with a pinned CA from a file; webhook headers from a file', () => {
    const ca = join(dir.path, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(parsePowerOption('redfish:https://10.0.0.6:8443', { user: 'admin', password: 'pw', caCert: ca, systemId: '1' })).toMatchObject({
      type: 'redfish', address: 'https://10.0.0.6:8443', systemId: '1', caCert: expect.stringContaining('BEGIN CERTIFICATE'),
    });
    const headers = join(dir.path, 'headers');
    writeFileSync(headers, '# the PDU token\nAuthorization: Bearer abc: def\nX-Outlet: 3\n');
    expect(parsePowerOption('webhook', { onUrl: 'http://pdu/on', offUrl: 'http://pdu/off', statusUrl: 'http://pdu/s', headerFile: headers })).toMatchObject({
      headers: { Authorization: 'Bearer abc: def', 'X-Outlet': '3' },
    });
  });

  test('errors say what is wrong and never quote a secret', () => {
    expect(() => parsePowerOption('redfish', { address: 'h', user: 'u', password: 'pw', cipherSuite: '3' })).toThrow('--cipher-suite does not apply to power type redfish');
    expect(() => parsePowerOption('ipmi:10.0.0.5', { address: '10.0.0.6', user: 'u', password: 'p' })).toThrow(/not both/);
    expect(() => parsePowerOption('ipmi:10.0.0.5', { password: 'p' })).toThrow(/\/user: Expected required property/);
    const long = 'A-very-long-password-for-ipmi-2';
    expect(() => parsePowerOption('ipmi:10.0.0.5', { user: 'u', password: long })).toThrow(/\/password: Expected string length less or equal to 20$/);
    try {
      parsePowerOption('ipmi:10.0.0.5', { user: 'u', password: long });
    } catch (error) {
      expect((error as Error).message).not.toContain(long);
    }
    expect(() => parsePowerOption('ipmi:-oProxyCommand=x', { user: 'u', password: 'p' })).toThrow(/\/address/); // never an ipmitool option
    expect(() => parsePowerOption('webhook', { onUrl: 'http://user:pw@pdu/on', offUrl: 'http://pdu/off', statusUrl: 'http://pdu/s' })).toThrow(/\/onUrl/);
  });
});

describe('views and warnings', () => {
  test('webhook headers show their names only; passwords not at all', () => {
    expect(publicPowerSettings({ type: 'webhook', onUrl: 'http://p/on', offUrl: 'http://p/off', statusUrl: 'http://p/s', headers: { Authorization: 'Bearer x' } }))
      .toEqual({ type: 'webhook', onUrl: 'http://p/on', offUrl: 'http://p/off', statusUrl: 'http://p/s', headers: { Authorization: '(secret)' } });
    expect(publicPowerSettings({ type: 'ipmi', address: 'a', user: 'u', password: 'p' })).toEqual({ type: 'ipmi', address: 'a', user: 'u' });
  });

  test('an unverified Redfish certificate is a warning; a pinned CA is not', () => {
    expect(powerSettingsWarnings({ type: 'redfish', address: 'a', user: 'u', password: 'p' })).toEqual([expect.stringMatching(/not verified/)]);
    expect(powerSettingsWarnings({ type: 'redfish', address: 'a', user: 'u', password: 'p', caCert: '-----BEGIN CERTIFICATE-----' })).toEqual([]);
    expect(powerSettingsWarnings({ type: 'ipmi', address: 'a', user: 'u', password: 'p' })).toEqual([]);
  });

  test('what commissioning reports becomes ipmi settings with the defaults left out', () => {
    expect(ipmiSettingsFromCommissioning({ address: '10.0.0.5', user: 'maas', password: 'x', port: 623 }))
      .toEqual({ type: 'ipmi', address: '10.0.0.5', user: 'maas', password: 'x' });
  });
});
