// The real appliance graph for in-process tests: src/appliance.ts buildAppliance() on a temp data
// directory with a real image (test/images/fixtures.ts), nothing listening; tests use inject() on its
// apps. Only what a test must control is swapped (overrides): the lease lookup, the power driver, the
// clock, the built-in scripts.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { buildAppliance, type ApplianceOverrides, type BuiltAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/index.js';
import { parseOperatorUserData } from '../../src/cloud-init/operator-user-data.js';
import { Deployments } from '../../src/machines/deployments.js';
import type { MachineService } from '../../src/machines/service.js';
import type { Store } from '../../src/store/index.js';
import { writeImage, type FakeImage } from '../images/fixtures.js';
import { silentLog, tempDir } from './fixtures.js';

/** The operator token the test appliance accepts (the config refuses shorter ones). */
export const operatorToken = 'operator-token-for-tests-0123456789';
export const testPublicUrl = 'http://10.213.0.1';

export interface TestAppliance extends BuiltAppliance {
  readonly dir: string;
  /** The `micro` image the Booter serves. */
  readonly image: FakeImage;
  /** Closes the appliance and removes its folder. */
  dispose(): Promise<void>;
}

export async function testAppliance(overrides: ApplianceOverrides & { readonly config?: Record<string, unknown>; readonly log?: Logger } = {}): Promise<TestAppliance> {
  const dir = tempDir();
  const imagesDir = join(dir.path, 'images');
  const image = writeImage(imagesDir, 'micro');
  const config = loadConfig({
    overrides: {
      dataDir: join(dir.path, 'data'), 'http.host': '127.0.0.1', 'http.port': 0, 'http.publicUrl': testPublicUrl,
      'api.port': 0, 'api.token': operatorToken, 'tftp.enabled': false, 'cloudInit.schemaCheck': 'off',
      ...overrides.config,
    },
  });
  const { config: _config, log, ...graph } = overrides;
  const built = await buildAppliance({ config, log: log ?? silentLog, imagesDir }, { builtinScripts: [], ...graph });
  await Promise.all([built.bootApp?.ready(), built.apiApp?.ready()]);
  return {
    ...built, dir: dir.path, image,
    dispose: async () => {
      await built.close();
      dir.cleanup();
    },
  };
}

/** Deploy and release for tests that build the API app by hand: no images, YAML-only user-data check. */
export function plainDeployments(service: MachineService, store: Pick<Store, 'events'>): Deployments {
  return new Deployments({
    service, events: store.events, images: { names: () => [] },
    defaultDiskImage: 'debian-disk', defaultMemoryImage: 'debian', defaultEraseMode: 'quick',
    parseUserData: parseOperatorUserData, checkCloudConfig: async () => undefined,
  });
}
