// The debian image's own cloud-init system config (images/debian/rootfs/90-netboot.cfg) passes the
// real `cloud-init schema`: cloud-init only warns at boot about an invalid one, and then ignores keys.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { recipesDir } from '../../src/paths.js';
import { cloudInitSchema } from './support.js';

describe('images/debian cloud-init system config', () => {
  test('90-netboot.cfg is valid for cloud-init schema', () => {
    const text = readFileSync(join(recipesDir, 'debian', 'rootfs', '90-netboot.cfg'), 'utf8');
    const check = cloudInitSchema(`#cloud-config\n${text}`);
    expect(check.ok, check.output).toBe(true);
  });
});
