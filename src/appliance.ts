// Composition root of `netboot serve` (STYLE.md §6): config -> logger -> store -> services ->
// listeners. close() stops them in reverse order.
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { publicUrl as derivePublicUrl, tftpHost } from './config/derived.js';
import { openStore, type Store } from './store/index.js';
import { ImageStore } from './images/index.js';
import { LifecycleBooter } from './machines/booter.js';
import { buildBootApp } from './http-boot/index.js';
import { enlistRoutes } from './enlist/index.js';
import { startDhcpServer, type DhcpServer } from './dhcp/index.js';
import { startTftpServer, tftpNamespace } from './tftp/index.js';
import { httpLoaderFiles, loaderChoice, missingLoaders, tftpLoaderFiles } from './boot-loaders.js';

export interface Appliance {
  readonly store: Store;
  readonly publicUrl: string;
  /** Where the boot HTTP listener is bound (port 0 in tests resolves here). */
  readonly httpAddress: { host: string; port: number } | null;
  close(): Promise<void>;
}

export interface ApplianceOptions {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  readonly imagesDir: string;
}

export async function startAppliance({ config, log, imagesDir }: ApplianceOptions): Promise<Appliance> {
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (err) {
        log.error({ err }, 'error while shutting down');
      }
    }
  };
  try {
    const store = openStore(config.dataDir);
    closers.push(() => store.close());
    store.events.onWriteError = (err) => log.error({ err }, 'writing machine events failed');
    const images = ImageStore.open(imagesDir);
    const publicUrl = derivePublicUrl(config);
    const booter = new LifecycleBooter({
      publicUrl, enlistImage: config.images.enlist, images, machines: store.machines, extraCmdline: config.boot.kernelArgs,
    });
    const missing = images.find(config.images.enlist) ? '' : ` (image '${config.images.enlist}' is not built yet: run \`netboot images build ${config.images.enlist}\`)`;
    log.info({ imagesDir, images: images.list().map((i) => i.name) }, `image store opened${missing}`);

    const macOfAddress = (address: string) => leaseMac(store, address);
    const missingFiles = missingLoaders(config.boot);
    if (missingFiles.length > 0) log.warn({ missing: missingFiles }, 'some boot loaders are not installed; firmware that needs them cannot boot');

    let httpAddress: Appliance['httpAddress'] = null;
    if (config.http.enabled) {
      const app = buildBootApp({
        booter, files: images, events: store.events, publicUrl, log, macOfAddress, loaders: httpLoaderFiles(config.boot),
      });
      app.register(enlistRoutes, { machines: store.machines, events: store.events });
      await app.listen({ host: config.http.host, port: config.http.port });
      closers.push(() => app.close());
      const bound = app.server.address();
      if (bound && typeof bound === 'object') httpAddress = { host: bound.address, port: bound.port };
    }

    if (config.tftp.enabled) {
      const files = tftpNamespace({ loaders: tftpLoaderFiles(config.boot), images, booter, events: store.events, macOfAddress });
      const tftp = await startTftpServer({
        host: tftpHost(config), port: config.tftp.port, files, log,
        options: {
          mtu: config.tftp.mtu, maxTransfers: config.tftp.maxTransfers, maxPerClient: config.tftp.maxPerClient,
          timeoutMs: config.tftp.timeoutMs, retries: config.tftp.retries, maxWindow: config.tftp.maxWindow,
        },
        events: (event) => {
          const mac = macOfAddress(event.address);
          // ERROR 8 after our OACK is the PXE/OVMF tsize probe (FACTS.md), not a failure worth a timeline entry.
          if (!mac || event.clientErrorCode === 8) return;
          store.events.record({ mac, type: event.kind === 'sent' ? 'tftp-sent' : 'tftp-failed', detail: `${event.name} ${event.bytes} B in ${event.ms} ms` });
        },
      });
      closers.push(() => tftp.close());
    }

    if (config.dhcp?.enabled) {
      const dhcp: DhcpServer = await startDhcpServer({
        config: config.dhcp, leases: store.leases, booter, events: store.events, log,
        bootScriptUrl: (mac: string) => `${publicUrl}/boot/${mac}.ipxe`,
        loaders: loaderChoice(config.boot, publicUrl),
        relays: store.relays,
      });
      closers.push(() => dhcp.close());
    }
    log.info({ publicUrl, http: httpAddress, dataDir: config.dataDir, dhcp: Boolean(config.dhcp?.enabled) }, 'netboot is serving');
    return { store, publicUrl, httpAddress, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** ::ffff:10.0.0.5 -> 10.0.0.5, then the MAC holding that lease. */
function leaseMac(store: Store, address: string): string | undefined {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return store.leases.byIp(ip)?.mac;
}
