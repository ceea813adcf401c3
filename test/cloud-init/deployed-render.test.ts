// The deployed system's and rescue mode's documents: what the installer writes onto the disk, checked
// by the real cloud-init (`cloud-init schema`), and the site's package sources (config cloudInit.apt).
import { describe, expect, test } from 'vitest';
import { load } from 'js-yaml';
import {
  renderSystemMetaData, renderSystemVendorData, renderTargetSystemConfig, type SystemSeedContext,
} from '../../src/cloud-init/deployed-render.js';
import { sampleMachine } from '../support/fixtures.js';
import { cloudInitSchema } from './support.js';

const machine = sampleMachine({
  state: 'Deploying', token: 'tok-0123456789abcdefghij',
  deployment: { target: 'disk', image: 'debian-disk', sshKeys: [], installed: true, startedAt: 1_796_000_000_000 },
});
const ctx: SystemSeedContext = { machine, kind: 'deployed', publicUrl: 'http://10.213.0.1', token: machine.token!, sshKeys: [] };
const apt = { mirror: 'http://mirror.lab/debian', securityMirror: 'http://mirror.lab/debian-security', proxy: 'http://proxy.lab:3128' };

describe('deployed system documents', () => {
  test('meta-data: one instance per deployment, the same on every reboot', () => {
    expect(load(renderSystemMetaData(ctx))).toEqual({ 'instance-id': 'abc234-deploy-1796000000000', 'local-hostname': 'nb-abc234' });
  });

  test('vendor-data: without a configured mirror, no apt section (the image keeps deb.debian.org)', () => {
    const text = renderSystemVendorData(ctx);
    expect(load(text)).toEqual({ final_message: 'netboot: deployed system abc234 up after $UPTIME s' });
    expect(cloudInitSchema(text).ok).toBe(true);
  });

  test('vendor-data: the site mirror, security mirror and proxy as cloud-init apt config; valid for cloud-init schema', () => {
    const text = renderSystemVendorData({ ...ctx, apt });
    expect((load(text) as { apt: unknown }).apt).toEqual({
      primary: [{ arches: ['default'], uri: 'http://mirror.lab/debian' }],
      security: [{ arches: ['default'], uri: 'http://mirror.lab/debian-security' }],
      proxy: 'http://proxy.lab:3128',
    });
    const check = cloudInitSchema(text);
    expect(check.ok, check.output).toBe(true);
    // Rescue mode runs in RAM from the ephemeral image: its sources are not the deployed system's.
    expect(renderSystemVendorData({ ...ctx, kind: 'rescue', apt })).not.toContain('apt');
  });

  test('90-netboot.cfg: NoCloud only, the reporting webhook with the token, manual cache clean; valid', () => {
    const text = renderTargetSystemConfig(ctx);
    expect(load(text)).toEqual({
      datasource_list: ['NoCloud', 'None'], manual_cache_clean: true,
      reporting: { netboot: { type: 'webhook', endpoint: 'http://10.213.0.1/cloud-init/tok-0123456789abcdefghij/events' } },
    });
    const check = cloudInitSchema(text);
    expect(check.ok, check.output).toBe(true);
  });
});
