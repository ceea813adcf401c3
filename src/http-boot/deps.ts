import type { Logger } from 'pino';
import type { Booter, EventSink } from '../machines/boot.js';
import type { HttpLimits } from '../http-listen.js';

export interface ServedFile {
  readonly id: string;
  readonly role: 'kernel' | 'initrd' | 'rootfs';
  /** Absolute path on disk. */
  readonly path: string;
}

export interface HttpBootDeps {
  readonly booter: Booter;
  readonly files: { fileById(id: string): ServedFile | undefined };
  readonly events: EventSink;
  /** Loader name -> absolute path, served at /loaders/<name> (UEFI HTTP Boot fetches ipxe.efi there). */
  readonly loaders: Readonly<Record<string, string>>;
  /** Maps a client address to its MAC through the DHCP leases, when the URL does not carry it. */
  readonly macOfAddress: (address: string) => string | undefined;
  readonly publicUrl: string;
  readonly log: Logger;
  /** Request and idle bounds (defaults: src/http-listen.ts). */
  readonly limits?: HttpLimits;
}
