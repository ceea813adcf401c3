// Loader binaries by the names firmware asks for, from the `boot` config section. Shared by the TFTP
// namespace, the HTTP loader route and the DHCP loader choice so that all three agree.
import { existsSync } from 'node:fs';
import type { BootConfig } from './config/schema.js';
import type { LoaderChoice } from './dhcp/index.js';

/** TFTP names. shim loads grubx64.efi from its own directory, so the two sit side by side in efi/. */
export function tftpLoaderFiles(boot: BootConfig): Record<string, string> {
  return {
    'undionly.kpxe': boot.loaders.undionly,
    'snponly.efi': boot.loaders.snponly,
    'ipxe.efi': boot.loaders.ipxeEfi,
    'efi/bootx64.efi': boot.loaders.shim,
    'efi/grubx64.efi': boot.loaders.grub,
  };
}

/** Names served at /loaders/<name> over HTTP (UEFI HTTP Boot). */
export function httpLoaderFiles(boot: BootConfig): Record<string, string> {
  return { 'ipxe.efi': boot.loaders.ipxeEfi, 'snponly.efi': boot.loaders.snponly };
}

export function loaderChoice(boot: BootConfig, publicUrl: string): LoaderChoice {
  const uefiPxe = { snponly: 'snponly.efi', ipxe: 'ipxe.efi', shim: 'efi/bootx64.efi' }[boot.uefiLoader];
  return boot.httpBoot ? { uefiPxe, uefiHttp: `${publicUrl}/loaders/ipxe.efi` } : { uefiPxe };
}

const packageOf: Readonly<Record<keyof BootConfig['loaders'], string>> = {
  undionly: 'ipxe', snponly: 'ipxe', ipxeEfi: 'ipxe', shim: 'shim-signed', grub: 'grub-efi-amd64-signed',
};

/** Configured loaders that are not on disk, each with the Debian package that provides it. */
export function missingLoaders(boot: BootConfig): string[] {
  return (Object.keys(packageOf) as Array<keyof BootConfig['loaders']>)
    .filter((key) => !existsSync(boot.loaders[key]))
    .map((key) => `boot.loaders.${key} ${boot.loaders[key]} (apt-get install ${packageOf[key]})`);
}
