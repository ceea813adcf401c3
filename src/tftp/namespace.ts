// What the TFTP server serves, by name. Clients never name a path on disk: loader names map to the
// configured Debian files, `files/<id>` to image files by id, and `grub/grub.cfg` is rendered from the
// Booter for the asking client (STYLE.md §5).
import { Buffer } from 'node:buffer';
import type { Booter, EventSink } from '../machines/boot.js';
import type { TftpClientInfo, TftpFiles, TftpSource } from './files.js';
import { renderGrubConfig, renderGrubFallback } from './grub-config.js';
import { bufferSource } from './buffer-source.js';
import { openFileSource } from './file-source.js';

export interface TftpNamespaceDeps {
  /** TFTP name -> absolute path of a loader binary. */
  readonly loaders: Readonly<Record<string, string>>;
  readonly images: { fileById(id: string): { readonly path: string } | undefined };
  readonly booter: Booter;
  readonly events: EventSink;
  /** The MAC holding a DHCP lease on this address (TFTP carries no MAC). */
  readonly macOfAddress: (address: string) => string | undefined;
}

/** Firmware sends `/name`, `name`, `//name` or, from Windows-era PXE stacks, backslashes. */
export function normaliseTftpName(name: string): string {
  return name.replace(/\\/g, '/').replace(/\/{2,}/g, '/').replace(/^\//, '');
}

export function tftpNamespace(deps: TftpNamespaceDeps): TftpFiles {
  return {
    async open(rawName: string, client: TftpClientInfo): Promise<TftpSource | null> {
      const name = normaliseTftpName(rawName);
      if (Object.hasOwn(deps.loaders, name)) return openFileSource(deps.loaders[name]!, { followSymlinks: true });
      const id = /^files\/([0-9a-f]{64})$/.exec(name)?.[1];
      if (id !== undefined) {
        const file = deps.images.fileById(id);
        return file ? openFileSource(file.path, { followSymlinks: true }) : null;
      }
      if (name === 'grub/grub.cfg') return bufferSource(Buffer.from(await grubConfigFor(deps, client.address)));
      return null;
    },
  };
}

async function grubConfigFor(deps: TftpNamespaceDeps, address: string): Promise<string> {
  const mac = deps.macOfAddress(address);
  if (!mac) return renderGrubFallback(`no DHCP lease for ${address}: cannot tell which machine this is`);
  // grub only runs on UEFI here: the signed chain is for x64 UEFI PXE with Secure Boot.
  const spec = await deps.booter.bootSpec({ mac, arch: 'x86_64-efi', firmware: 'uefi-pxe' });
  if (!spec) return renderGrubFallback(`this machine (${mac}) is not served here`);
  deps.events.record({ mac, type: 'grub-config', detail: spec.purpose });
  return renderGrubConfig(spec, mac);
}
