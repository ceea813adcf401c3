import type { Logger } from 'pino';
import type { Booter, EventSink } from '../machines/boot.js';
import type { BootAuth } from '../machines/boot-auth.js';
import type { HttpLimits } from '../http-listen.js';
import type { Metrics } from '../metrics.js';

export interface ServedFile {
  readonly id: string;
  /** Boot files (kernel, initrd, rootfs) and disk image files (root tarball, localboot.efi). */
  readonly role: 'kernel' | 'initrd' | 'rootfs' | 'root' | 'localboot';
  /** Absolute path on disk. */
  readonly path: string;
}

export interface HttpBootDeps {
  readonly booter: Booter;
  readonly files: { fileById(id: string): ServedFile | undefined };
  readonly events: EventSink;
  /** Requests by route and status, download octets, script renders (src/metrics.ts); none when absent. */
  readonly metrics?: Metrics;
  /** Loader name -> absolute path, served at /loaders/<name> (UEFI HTTP Boot fetches ipxe.efi there). */
  readonly loaders: Readonly<Record<string, string>>;
  /**
   * The boot side's one authentication seam: who holds an address (DHCP leases), and whether a
   * token-bearing script may go to it.
   */
  readonly auth: Pick<BootAuth, 'binding' | 'macOf' | 'mayUseToken'>;
  readonly publicUrl: string;
  readonly log: Logger;
  /** Request and idle bounds (defaults: src/http-listen.ts). */
  readonly limits?: HttpLimits;
}
