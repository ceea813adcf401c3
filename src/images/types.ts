// Values the image store hands out. Immutable: a rebuilt image reaches the appliance when its
// ImageCatalogue swaps in a new ImageStore.open() (catalogue.ts).

export type ImageRole = 'kernel' | 'initrd' | 'rootfs';

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

export interface Image {
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
  /** agent: netboot's own PID 1 in the root (micro); cloud-init: systemd + cloud-init (debian). */
  readonly environment: 'agent' | 'cloud-init';
  readonly files: {
    readonly kernel: ImageFile;
    readonly initrd: ImageFile;
    readonly rootfs?: ImageFile;
  };
}

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
