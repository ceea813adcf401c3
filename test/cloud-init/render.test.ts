// The NoCloud renderers: exact-text goldens, and every cloud-config we render checked by the real
// cloud-init (`cloud-init schema`) and split into parts by the Python MIME parser cloud-init uses.
import { describe, expect, test } from 'vitest';
import { load } from 'js-yaml';
import { parseOperatorUserData } from '../../src/cloud-init/operator-user-data.js';
import {
  renderCmdlineConfig, renderMetaData, renderNetworkConfig, renderUserData, renderVendorData, type SeedContext,
} from '../../src/cloud-init/render.js';
import { sampleInventory, sampleMachine } from '../support/fixtures.js';
import { expectGolden } from '../support/golden.js';
import { cloudInitSchema, pythonMimeParts } from './support.js';

const machine = sampleMachine({
  state: 'Commissioning', token: 'tok-0123456789abcdefghij', runId: 7,
  inventory: sampleInventory({
    nics: [
      { name: 'eth0', mac: '52:54:00:12:34:56', driver: 'e1000', link: true, speedMbps: 1000 },
      { name: 'eth1', mac: '52:54:00:AB:CD:EF', driver: 'virtio_net', link: false, speedMbps: null },
    ],
  }),
});
const ctx: SeedContext = {
  machine, phase: 'commissioning', publicUrl: 'http://10.213.0.1', token: machine.token!, sshKeys: ['ssh-ed25519 AAAAC3Nza operator@lab'],
};
const operatorConfig = parseOperatorUserData('#cloud-config\nruncmd:\n  - [sh, -c, "echo operator was here"]\nwrite_files:\n  - path: /etc/motd\n    content: hello\n');
const golden = (name: string, text: string) => expectGolden(`testdata/cloud-init/${name}`, text);

describe('NoCloud documents', () => {
  test('meta-data: instance id per run, hostname, keys (golden)', () => {
    const text = renderMetaData(ctx);
    golden('meta-data.yaml', text);
    expect(load(text)).toEqual({ 'instance-id': 'abc234-commissioning-7', 'local-hostname': 'nb-abc234', 'public-keys': ['ssh-ed25519 AAAAC3Nza operator@lab'] });
    expect(renderMetaData({ ...ctx, machine: { ...machine, runId: 8 } })).toContain('abc234-commissioning-8');
    expect(renderMetaData({ ...ctx, sshKeys: [] })).not.toContain('public-keys');
  });

  test('vendor-data and the cloud-config-url document pass cloud-init schema (golden)', () => {
    for (const [name, text] of [['vendor-data.yaml', renderVendorData(ctx)], ['cmdline-cloud-config.yaml', renderCmdlineConfig(ctx)]] as const) {
      golden(name, text);
      const check = cloudInitSchema(text);
      expect(check.ok, check.output).toBe(true);
    }
    expect(load(renderCmdlineConfig(ctx))).toEqual({
      reporting: { netboot: { type: 'webhook', endpoint: 'http://10.213.0.1/cloud-init/tok-0123456789abcdefghij/events' } },
    });
  });

  test('network-config v2: DHCP on the boot NIC, the others optional, matched by MAC (golden)', () => {
    const text = renderNetworkConfig(ctx);
    golden('network-config.yaml', text);
    expect(load(text)).toEqual({
      version: 2,
      ethernets: {
        nic0: { match: { macaddress: '52:54:00:12:34:56' }, dhcp4: true },
        nic1: { match: { macaddress: '52:54:00:ab:cd:ef' }, dhcp4: false, optional: true },
      },
    });
  });

  test('user-data: the operator part first, ours after, as cloud-init\'s MIME parser sees it (golden)', () => {
    const text = renderUserData(ctx, operatorConfig);
    golden('user-data-operator-config.mime', text);
    expect(renderUserData(ctx, operatorConfig)).toBe(text); // deterministic: same input, same bytes
    const parts = pythonMimeParts(text);
    expect(parts.map((p) => [p.contentType, p.filename])).toEqual([
      ['text/cloud-config', 'operator.cfg'], ['text/x-shellscript', 'zz-netboot-runner.sh'], ['text/cloud-config', 'netboot.cfg'],
    ]);
    expect(parts[0]!.body).toBe(operatorConfig.kind === 'cloud-config' ? operatorConfig.text : '');
    const runner = parts[1]!.body;
    expect(runner).toMatch(/^#!\/bin\/sh\n/);
    expect(runner).toContain("export NETBOOT_TOKEN='tok-0123456789abcdefghij'");
    expect(runner).toContain("export NETBOOT_PHASE='commissioning'");
    expect(runner).toContain('exec /usr/lib/netboot/runner --defer-finished');
    for (const part of parts.filter((p) => p.contentType === 'text/cloud-config')) {
      const check = cloudInitSchema(part.body);
      expect(check.ok, `${part.filename}: ${check.output}`).toBe(true);
    }
    expect(load(parts[2]!.body)).toMatchObject({ power_state: { mode: 'poweroff', condition: false }, phone_home: { url: 'http://10.213.0.1/cloud-init/tok-0123456789abcdefghij/phone-home' } });
  });

  test('user-data without operator data, and with an operator script', () => {
    const none = pythonMimeParts(renderUserData(ctx, parseOperatorUserData('')));
    expect(none.map((p) => p.filename)).toEqual(['zz-netboot-runner.sh', 'netboot.cfg']);
    const script = renderUserData({ ...ctx, phase: 'testing' }, parseOperatorUserData('#!/bin/bash\necho hi'));
    golden('user-data-operator-script.mime', script);
    const parts = pythonMimeParts(script);
    expect(parts.map((p) => [p.contentType, p.body.split('\n')[0]])).toEqual([
      ['text/x-shellscript', '#!/bin/bash'], ['text/x-shellscript', '#!/bin/sh'], ['text/cloud-config', '#cloud-config'],
    ]);
    expect(parts[1]!.body).toContain("NETBOOT_PHASE='testing'");
  });

  test('values with quotes and YAML metacharacters stay data', () => {
    const odd = sampleMachine({ ...machine, hostname: 'n1', id: "a'b: c" });
    const text = renderMetaData({ ...ctx, machine: odd, sshKeys: ['ssh-rsa AAA # not: a comment'] });
    expect(load(text)).toMatchObject({ 'instance-id': "a'b: c-commissioning-7", 'public-keys': ['ssh-rsa AAA # not: a comment'] });
    const parts = pythonMimeParts(renderUserData({ ...ctx, token: "x'y" }, parseOperatorUserData('')));
    expect(parts[0]!.body).toContain(`export NETBOOT_TOKEN='x'\\''y'`);
  });
});

describe('operator user-data limits', () => {
  test('a "billion laughs" document (the probe\'s, 12 levels of 9 aliases) is refused, quickly', () => {
    const lines = ['#cloud-config', 'a0: &a0 ["lol"]'];
    for (let i = 1; i <= 12; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const started = performance.now();
    expect(() => parseOperatorUserData(`${lines.join('\n')}\n`)).toThrow(/expands to more than 100000 YAML nodes/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test('aliases in ordinary measure are fine', () => {
    const text = '#cloud-config\nbase: &base { owner: root, permissions: "0644" }\nwrite_files:\n  - { path: /a, <<: *base }\n  - { path: /b, <<: *base }\n';
    expect(parseOperatorUserData(text).kind).toBe('cloud-config');
  });
});
