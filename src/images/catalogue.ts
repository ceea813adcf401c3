// The images the appliance serves, reloadable (STYLE.md §16: images in a reloadable catalogue). An
// ImageStore is a snapshot of the folder; images built or imported while the appliance runs reach it
// when a fresh snapshot is swapped in: on SIGHUP, on `POST /api/v1/images/reload` (which `netboot
// images build` calls), and at most once a minute when a boot asks for an image that is not there
// (the iPXE retry script asks again every 30 s until it is built). Files are served by content id,
// so a download in flight keeps working across a swap: the same bytes have the same id.
import type { Logger } from 'pino';
import { asBootImage, ImageStore } from './store.js';
import type { BootImage, DiskImage, Image, ImageFile } from './types.js';

export interface ImageCatalogueOptions {
  readonly log?: Logger;
  readonly now?: () => number;
  /** The shortest time between two reloads a missing image causes, ms. */
  readonly missReloadMs?: number;
}

export interface ReloadResult {
  /** Every image now served, by name. */
  readonly images: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Images whose build changed (a rebuild with a new version or recipe). */
  readonly changed: readonly string[];
}

export class ImageCatalogue {
  private store: ImageStore;
  private readonly now: () => number;
  private lastMissReload = -Infinity;

  private constructor(readonly dir: string, private readonly options: ImageCatalogueOptions) {
    this.now = options.now ?? Date.now;
    this.store = ImageStore.open(dir);
  }

  /** Opens the folder as ImageStore.open does (throws ImageError on a bad manifest). */
  static open(dir: string, options: ImageCatalogueOptions = {}): ImageCatalogue {
    return new ImageCatalogue(dir, options);
  }

  /** The snapshot lookups use now. */
  current(): ImageStore {
    return this.store;
  }

  /**
   * Reads the folder again and swaps the fresh snapshot in. A broken manifest (ImageError) throws and
   * the previous snapshot stays: a half-finished import never takes down the images already served.
   */
  reload(): ReloadResult {
    const before = new Map(this.store.list().map((i) => [i.name, i]));
    const fresh = ImageStore.open(this.dir);
    this.store = fresh;
    const after = fresh.list();
    const result: ReloadResult = {
      images: after.map((i) => i.name),
      added: after.filter((i) => !before.has(i.name)).map((i) => i.name),
      removed: [...before.keys()].filter((name) => !fresh.find(name)),
      changed: after.filter((i) => {
        const old = before.get(i.name);
        return old !== undefined && (old.version !== i.version || old.builtAt !== i.builtAt || old.recipeSha256 !== i.recipeSha256);
      }).map((i) => i.name),
    };
    this.options.log?.info(result, 'images reloaded');
    return result;
  }

  /** The image, reloading first (at most once per missReloadMs) when it is missing; else the store's ImageMissingError. */
  get(name: string): Image {
    const found = this.store.find(name) ?? (this.reloadOnMiss() ? this.store.find(name) : undefined);
    return found ?? this.store.get(name); // throws the error that says how to build it
  }

  find(name: string): Image | undefined {
    return this.store.find(name);
  }

  /** get() for the environments the Booter boots: a disk image there is an ImageError naming the boot images. */
  bootImage(name: string): BootImage {
    return asBootImage(this.get(name), this.list());
  }

  /** The disk image to deploy (reloading on a miss like get()); NotFoundError listing the disk images. */
  diskImage(name: string): DiskImage {
    if (!this.store.find(name)) this.reloadOnMiss();
    return this.store.diskImage(name);
  }

  /** Ids come from boot specs made from a snapshot; a miss does not reload (clients cannot make us scan). */
  fileById(id: string): ImageFile | undefined {
    return this.store.fileById(id);
  }

  list(): Image[] {
    return this.store.list();
  }

  private reloadOnMiss(): boolean {
    const at = this.now();
    if (at - this.lastMissReload < (this.options.missReloadMs ?? 60_000)) return false;
    this.lastMissReload = at;
    try {
      this.reload();
      return true;
    } catch (err) {
      this.options.log?.warn({ err }, 'images not reloaded: the previous ones stay served');
      return false;
    }
  }
}
