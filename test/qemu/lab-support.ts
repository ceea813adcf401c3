// What the QEMU end-to-end files share: the images a deployment needs, and a lab teardown that checks
// its namespace is gone (a leaked namespace would hold a bridge, taps and processes).
import { expect } from 'vitest';
import { buildImage } from '../../src/images/index.js';
import { recipesDir } from '../../src/paths.js';
import type { Lab } from '../../src/lab/lab.js';
import { listNamespaces } from '../../src/lab/netns.js';

/** micro (enlistment), debian (the installer's environment) and debian-disk: cached after the first build. */
export async function buildDeployImages(imagesDir: string): Promise<void> {
  await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: () => undefined });
  for (const name of ['debian', 'debian-disk']) {
    await buildImage({ name, imagesDir, recipesDir, force: false, onProgress: (line) => console.log(`images/${name}: ${line}`) });
  }
}

/** Closes the lab (VMs, appliance, namespace) and checks its namespace is gone. */
export async function closeLab(lab: Lab | undefined): Promise<void> {
  const namespace = lab?.network.name;
  await lab?.close();
  if (namespace) expect(listNamespaces()).not.toContain(namespace);
}
