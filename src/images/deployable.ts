// What deployments read from the image catalogue (issue 13): the disk images (root tarballs the
// installer writes), the cloud-init boot images (what a memory deployment boots), the root tarball of
// a disk image as the installer fetches it, and localboot.efi (the UEFI hand-off to an installed disk).
import type { DeployableImages } from '../machines/deployments.js';
import type { InstallableImage } from '../machines/phase-parameters.js';
import type { ImageCatalogue } from './catalogue.js';

export interface DeployableCatalogue extends DeployableImages {
  installable(name: string): InstallableImage;
  /** File id of localboot.efi: the default disk image's, else any disk image's; undefined when none is built. */
  localbootEfi(): string | undefined;
}

export function deployableImages(catalogue: ImageCatalogue, defaultDiskImage: string): DeployableCatalogue {
  const disks = () => catalogue.list().flatMap((i) => (i.kind === 'disk' ? [i] : []));
  return {
    names: (kind, wanted) => {
      if (!catalogue.find(wanted)) {
        try {
          catalogue.get(wanted); // reloads the folder on a miss (at most once a minute)
        } catch {
          // still missing: the caller lists what there is
        }
      }
      return kind === 'disk' ? disks().map((i) => i.name)
        : catalogue.list().flatMap((i) => (i.kind === 'boot' && i.environment === 'cloud-init' ? [i.name] : []));
    },
    installable: (name) => {
      const image = catalogue.diskImage(name);
      return { id: image.files.root.id, sha256: image.files.root.sha256, bytes: image.files.root.size, rootBytes: image.rootBytes };
    },
    localbootEfi: () => {
      const all = disks();
      return (all.find((i) => i.name === defaultDiskImage) ?? all.find((i) => i.files.localboot))?.files.localboot?.id;
    },
  };
}
