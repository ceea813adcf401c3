// Values the image store hands out. Immutable: a rebuilt image reaches the appliance when its
// ImageCatalogue swaps in a new ImageStore.open() (catalogue.ts).

/** Boot images have kernel, initrd and rootfs; disk images root (the tarball) and localboot. */
export type ImageRole = 'kernel' | 'initrd' | 'rootfs' | 'root' | 'localboot';

/**
 * boot: an environment netbooted into RAM (micro, debian). disk: an OS root written to a machine's
 * disk by the installer (debian-disk), never netbooted. Manifests without `kind` are boot images.
 */
export type ImageKind = 'boot' | 'disk';

export interface ImageFile {
  /** Opaque, content-addressed id (the sha256 hex): HTTP serves it at /files/<id> (STYLE.md §5). */
  readonly id: string;
  readonly role: ImageRole;
  /** Absolute path on this host; never shown to machines. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Name of the image this file belongs to. */
  readonly image: string;
}

export interface ImagePackage {
  readonly name: string;
  readonly version: string;
}

/** What every kind of image has. */
interface ImageCommon {
  readonly name: string;
  /** Recipe-defined; for micro the kernel release (6.1.0-56-amd64). */
  readonly version: string;
  readonly arch: string;
  /** ISO 8601 time of the build. */
  readonly builtAt: string;
  /** Hash of the recipe folder the image was built from (see recipe-hash.ts). */
  readonly recipeSha256: string;
  /** Absolute folder holding the manifest and files. */
  readonly dir: string;
  /** Distribution packages the image was built from, when the recipe records them. */
  readonly packages?: readonly ImagePackage[];
}

export interface BootImage extends ImageCommon {
  readonly kind: 'boot';
  /** agent: netboot's own PID 1 in the root (micro); cloud-init: systemd + cloud-init (debian). */
  readonly environment: 'agent' | 'cloud-init';
  readonly files: {
    readonly kernel: ImageFile;
    readonly initrd: ImageFile;
    readonly rootfs?: ImageFile;
  };
}

export interface DiskImage extends ImageCommon {
  readonly kind: 'disk';
  /** The only format the installer extracts: a tar of the whole root, zstd-compressed. */
  readonly format: 'tar.zst';
  /** Size of the extracted root in bytes (sum of file sizes): the installer refuses a smaller disk. */
  readonly rootBytes: number;
  /** The tarball `netboot images import` took it from; absent for images built from a recipe. */
  readonly importedFrom?: string;
  readonly files: {
    readonly root: ImageFile;
    /** grub-mkstandalone EFI program that chainloads the installed disk (UEFI local boot). Imported
     * images have none: any disk image's build serves for that. */
    readonly localboot?: ImageFile;
  };
}

/** Narrow with `kind` before using files: only boot images have a kernel. */
export type Image = BootImage | DiskImage;

export interface FileVerifyResult {
  readonly role: ImageRole;
  readonly path: string;
  readonly expected: string;
  /** sha256 of the file now; null when it could not be read. */
  readonly actual: string | null;
  readonly ok: boolean;
  /** Why the file could not be read. */
  readonly error?: string;
}

export interface ImageVerifyResult {
  readonly name: string;
  readonly ok: boolean;
  readonly files: readonly FileVerifyResult[];
}
