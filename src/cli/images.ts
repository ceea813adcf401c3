import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { buildImage, importDiskImage, ImageStore, type Image, type ReloadResult } from '../images/index.js';
import { recipesDir } from '../paths.js';
import { apiClient } from './api-client.js';
import { imagesDirOf, resolveConfig, type GlobalOptions } from './context.js';

export function registerImageCommands(program: Command): void {
  const images = program.command('images').description('boot images (kernel, initrd, root squashfs) and disk images (root.tar.zst)');

  images.command('build').description('build an image (boot or disk) from its recipe in images/<name>')
    .argument('<name>', 'recipe name, e.g. micro or debian-disk')
    .option('--force', 'rebuild even when the built image matches the recipe')
    .action(async (name: string, options: { force?: boolean }) => {
      const config = resolveConfig(program.opts<GlobalOptions>());
      const imagesDir = imagesDirOf(config);
      // Ctrl-C stops the recipe's whole process group; its trap removes the half-built output.
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const result = await buildImage({
        name, imagesDir, recipesDir, force: Boolean(options.force), onProgress: (line) => console.log(line), signal: abort.signal,
      });
      const files = fileSizes(result.image);
      console.log(result.skipped
        ? `image '${name}' is up to date (${files.join(', ')})`
        : `built image '${name}' ${result.image.version} in ${result.seconds.toFixed(0)} s: ${files.join(', ')}`);
      await tellAppliance(config);
    });

  images.command('list').description('list built images')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const store = ImageStore.open(imagesDirOf(resolveConfig(program.opts<GlobalOptions>())));
      const list = store.list();
      if (options.json) return console.log(JSON.stringify(list, null, 2));
      if (list.length === 0) return console.log('No images built: run `netboot images build micro`.');
      for (const image of list) {
        const installed = image.kind === 'disk' ? `, installed ${mib(image.rootBytes)}` : '';
        console.log(`${image.name.padEnd(12)} ${image.kind.padEnd(4)} ${image.version.padEnd(20)} ${image.builtAt}  ${fileSizes(image).join(', ')}${installed}`);
      }
    });

  images.command('import').description('import an OS root tarball (.tar.zst with a kernel and cloud-init) as a disk image to deploy')
    .argument('<name>', 'image name, e.g. my-debian')
    .requiredOption('--root <file>', 'the root tarball: tar --numeric-owner --xattrs --xattrs-include=\'*\' --acls -C ROOT -cf - . | zstd')
    .option('--force', 'replace an image of that name')
    .action(async (name: string, options: { root: string; force?: boolean }) => {
      const config = resolveConfig(program.opts<GlobalOptions>());
      const image = await importDiskImage({ name, imagesDir: imagesDirOf(config), rootFile: options.root, force: Boolean(options.force) });
      console.log(`imported disk image '${name}' (kernel ${image.version}): ${fileSizes(image).join(', ')}, installed ${mib(image.rootBytes)}`);
      await tellAppliance(config);
    });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function fileSizes(image: Image): string[] {
  return Object.values(image.files).map((f) => `${f.role} ${mib(f.size)}`);
}

/**
 * Best effort: a running appliance serves the image at once (POST /api/v1/images/reload). Without one
 * nothing is lost: the appliance reads the folder when it starts, on SIGHUP, and when a boot misses it.
 */
async function tellAppliance(config: Readonly<Config>): Promise<void> {
  if (!config.api.enabled) return;
  try {
    const result = await apiClient(config).call<ReloadResult>('POST', '/images/reload');
    console.log(`the running appliance now serves: ${result.images.join(', ')}`);
  } catch (err) {
    console.log(`the running appliance was not told (${(err as Error).message}); it serves the image after its next start or SIGHUP`);
  }
}
