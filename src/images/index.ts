// Public surface of the image store (STYLE.md §6): built boot images, their files by opaque id, and
// building them from the recipes in images/.
export { ImageStore } from './store.js';
export { ImageCatalogue, type ImageCatalogueOptions, type ReloadResult } from './catalogue.js';
export { buildImage, listRecipes, type BuildImageOptions, type BuildImageResult } from './build.js';
export { importDiskImage, listRootTarball, type ImportDiskImageOptions, type RootListing } from './import.js';
export { defaultCacheDir, defaultImagesDir } from './paths.js';
export { recipeSha256 } from './recipe-hash.js';
export { BootManifestSchema, DiskManifestSchema, IMAGE_NAME, ManifestSchema, type Manifest } from './manifest.js';
export type {
  BootImage, DiskImage, FileVerifyResult, Image, ImageFile, ImageKind, ImagePackage, ImageRole, ImageVerifyResult,
} from './types.js';
