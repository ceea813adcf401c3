// Composition root of `netboot serve` (STYLE.md §6): config -> logger -> store -> services -> apps
// (buildAppliance), then listeners (listen). close() stops them in reverse order.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { publicUrl as derivePublicUrl, routerAdvertInterface, tftpHost } from './config/derived.js';
import { lockDataDir, openStore, type Store } from './store/index.js';
import { EventRetention } from './store/event-retention.js';
import { ImageCatalogue } from './images/index.js';
import { LifecycleBooter } from './machines/booter.js';
import { buildBootApp } from './http-boot/index.js';
import { enlistRoutes } from './enlist/index.js';
import { startDhcpServer, startProxyDhcpServer, type DhcpServer, type ProxyDhcpServer } from './dhcp/index.js';
import { startTftpServer, tftpNamespace, tftpTimelineEvent } from './tftp/index.js';
import { buildApiApp, operatorToken, PromMetrics } from './api/index.js';
import { loadBuiltinScripts, machineCallbackRoutes } from './enlist/index.js';
import { MachineService, type MachineServiceDeps } from './machines/service.js';
import { BootAuth, plainIpv4, type LeaseLookup } from './machines/boot-auth.js';
import { BoundedEvents } from './machines/event-bounds.js';
import { BootGapEvents } from './machines/boot-gap.js';
import { Tagging } from './machines/tagging.js';
import { Catalogue } from './machines/catalogue.js';
import { adoptBmcCredentials } from './machines/bmc-adoption.js';
import { ScriptRuns } from './machines/script-runs.js';
import { builtinScriptsDir, deployScriptsDir } from './paths.js';
import { Deployments } from './machines/deployments.js';
import { phaseParameters } from './machines/phase-parameters.js';
import { deployableImages } from './images/deployable.js';
import { parseOperatorUserData } from './cloud-init/operator-user-data.js';
import { createPowerDriver, parsePowerSettings } from './power/index.js';
import { SecretBox } from './secret-box.js';
import { cloudInitRoutes, cloudInitSchemaChecker, cloudInitVersion, RenderCache, type SchemaChecker } from './cloud-init/index.js';
import type { CloudInitConfig } from './config/schema.js';
import { ConfigError } from './errors.js';
import { closeInReverse, type Closer } from './closers.js';
import { isLoopback, listenHttp } from './http-listen.js';
import { RouterAdvertiser } from './router-advert.js';
import { httpLoaderFiles, loaderChoice, missingLoaders, tftpLoaderFiles } from './boot-loaders.js';

export interface Appliance {
  readonly store: Store;
  /** The images served; reload() picks up images built since (SIGHUP, POST /api/v1/images/reload). */
  readonly images: ImageCatalogue;
  readonly publicUrl: string;
  /** Where the boot HTTP listener is bound (port 0 in tests resolves here). */
  readonly httpAddress: { host: string; port: number } | null;
  /** Where the operator API is bound (null when api.enabled is false). */
  readonly apiAddress: { host: string; port: number } | null;
  close(): Promise<void>;
}

export interface ApplianceOptions {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  readonly imagesDir: string;
}

/** What a test may swap for its own (code review 2026-12 item 11): the rest is the real graph. */
export interface ApplianceOverrides {
  readonly now?: () => number;
  readonly powerDriver?: MachineServiceDeps['powerDriver'];
  /** Who holds an address, instead of the DHCP leases (tests that send from chosen addresses). */
  readonly leases?: LeaseLookup;
  readonly userDataChecker?: SchemaChecker;
  readonly builtinScripts?: MachineServiceDeps['builtinScripts'];
}

/**
 * The appliance, wired and not listening: every service and both fastify apps with their plugins, as
 * `serve` runs them. Tests use it with inject() instead of wiring parts by hand; listen() binds the
 * sockets (HTTP, API, TFTP, DHCP) and is what `serve` does next.
 */
export interface BuiltAppliance {
  readonly store: Store;
  readonly images: ImageCatalogue;
  readonly publicUrl: string;
  readonly service: MachineService;
  readonly tagging: Tagging;
  readonly auth: BootAuth;
  /** The boot side's event sink (cleaned, rate-bound). */
  readonly bootEvents: BoundedEvents;
  /** Rendered cloud-init documents, per machine version. */
  readonly renderCache: RenderCache;
  /** What the servers count (GET /api/v1/metrics). */
  readonly metrics: PromMetrics;
  readonly bootApp: FastifyInstance | null;
  readonly apiApp: FastifyInstance | null;
  listen(): Promise<Appliance>;
  close(): Promise<void>;
}

export async function startAppliance(options: ApplianceOptions): Promise<Appliance> {
  const built = await buildAppliance(options);
  return built.listen();
}

export async function buildAppliance({ config, log, imagesDir }: ApplianceOptions, overrides: ApplianceOverrides = {}): Promise<BuiltAppliance> {
  const closers: Closer[] = [];
  const close = () => closeInReverse(closers, log);
  try {
    const lock = lockDataDir(config.dataDir); // before anything reads or writes the store
    closers.push(() => lock.release());
    const store = openStore(config.dataDir, overrides.now);
    closers.push(() => store.close());
    store.events.onWriteError = (err) => log.error({ err }, 'writing machine events failed');
    const retention = new EventRetention(store.events, { dhcpRetentionDays: config.events.dhcpRetentionDays, log: log.child({ subsystem: 'events' }) });
    retention.start();
    closers.push(() => retention.close());
    const images = ImageCatalogue.open(imagesDir, { log: log.child({ subsystem: 'images' }) });
    const publicUrl = derivePublicUrl(config);
    // Disk images (what a deployment installs) and cloud-init images (what a memory deployment boots).
    const deployable = deployableImages(images, config.images.deploy);
    const booter = new LifecycleBooter({
      publicUrl, enlistImage: config.images.enlist, commissionImage: config.images.commission, ephemeralImage: config.images.ephemeral,
      // Boot images only: a disk image named in images.enlist/commission/ephemeral is an error that says so.
      images: { get: (name) => images.bootImage(name) }, machines: store.machines, extraCmdline: config.boot.kernelArgs,
      localbootEfi: () => deployable.localbootEfi(),
    });
    const service = new MachineService({
      store, log: log.child({ subsystem: 'machines' }), builtinScripts: overrides.builtinScripts ?? [...loadBuiltinScripts(builtinScriptsDir), ...loadBuiltinScripts(deployScriptsDir)],
      powerDriver: overrides.powerDriver ?? ((settings) => createPowerDriver(parsePowerSettings(settings), { log: log.child({ subsystem: 'power' }) })),
      // BMC passwords and webhook header values are sealed with the data directory's key (src/secret-box.ts).
      secrets: SecretBox.forDataDir(config.dataDir),
      powerPoll: { intervalMs: config.power.pollIntervalSeconds * 1000, concurrency: config.power.pollConcurrency },
      timeouts: {
        commissioning: config.lifecycle.commissioningTimeout, testing: config.lifecycle.testingTimeout,
        deploying: config.lifecycle.deployingTimeout, releasing: config.lifecycle.releasingTimeout,
        erasing: config.lifecycle.erasingTimeout, rescue: config.lifecycle.rescueTimeout,
      },
      enlistingTimeout: config.lifecycle.enlistingTimeout,
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    service.start();
    closers.push(() => service.close());
    const tagging = new Tagging(store);
    const catalogue = new Catalogue(store, service.scripts);
    const renderCache = new RenderCache();
    closers.push(() => renderCache.close());
    const userDataChecker = overrides.userDataChecker ?? await schemaChecker(config.cloudInit, log);
    const deployments = new Deployments({
      service, images: deployable, events: store.events,
      defaultDiskImage: config.images.deploy, defaultMemoryImage: config.images.ephemeral, defaultEraseMode: config.lifecycle.eraseMode,
      parseUserData: parseOperatorUserData, checkCloudConfig: (text) => userDataChecker.check(text),
      onUserDataChanged: (id) => renderCache.invalidate(id),
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    const missing = images.find(config.images.enlist) ? '' : ` (image '${config.images.enlist}' is not built yet: run \`netboot images build ${config.images.enlist}\`)`;
    log.info({ imagesDir, images: images.list().map((i) => i.name) }, `image store opened${missing}`);

    // TFTP and HTTP carry no MAC: a lease says whose address it is, or in proxy mode (no leases of
    // ours; a table left from full mode is stale) what the proxy heard PXE clients use
    // (src/dhcp/proxy.ts heardAddress). The proxy starts after TFTP and HTTP, in listen().
    const proxyMode = config.dhcp?.enabled === true && config.dhcp.mode === 'proxy';
    let proxy: ProxyDhcpServer | undefined;
    const macOfAddress = (address: string) => {
      const ip = plainIpv4(address);
      return overrides.leases ? overrides.leases.macOf(ip) : proxyMode ? proxy?.macOf(ip) : store.leases.byIp(ip)?.mac;
    };
    // Everything a host on the boot network makes us record is cleaned and rate-bound (event-bounds.ts).
    // Behind the bound, each iPXE boot's wait after its DHCP ACK goes on its script event (boot-gap.ts).
    const bootEvents = new BoundedEvents(new BootGapEvents(store.events), { log: log.child({ subsystem: 'events' }) });
    // What the servers count, scraped at GET /api/v1/metrics (src/metrics.ts).
    const metrics = new PromMetrics();
    // Tokens are bound to the lease holder's address wherever we run DHCP (README "Threat model").
    const auth = new BootAuth({
      machines: store.machines, events: bootEvents,
      ...(config.dhcp?.enabled || overrides.leases ? { leases: { macOf: macOfAddress } } : {}),
    });
    if (!auth.binding) {
      log.warn('DHCP is off: run tokens cannot be bound to the lease holder\'s address, so any host that learns one can use it (README "Threat model")');
    }
    const missingFiles = missingLoaders(config.boot);
    if (missingFiles.length > 0) log.warn({ missing: missingFiles }, 'some boot loaders are not installed; firmware that needs them cannot boot');

    let bootApp: FastifyInstance | null = null;
    if (config.http.enabled) {
      const app = buildBootApp({
        booter, files: images, events: bootEvents, metrics, publicUrl, log, auth, loaders: httpLoaderFiles(config.boot),
        limits: config.http,
      });
      app.register(enlistRoutes, { store, tagging, onClaimed: (machine) => service.enlistedByBmc(machine) });
      const parameters = phaseParameters({ publicUrl, installable: (name) => deployable.installable(name), defaultEraseMode: config.lifecycle.eraseMode, bmc: config.bmc });
      app.register(machineCallbackRoutes, { auth, runs: new ScriptRuns({
          store, service, tagging, phaseParameters: parameters,
          // In the power queue: the next phase's power-on waits for the switch to the new BMC user.
          onBmcCredentials: (machine, found) => service.inPowerQueue(machine.id, () => adoptBmcCredentials({ service, events: store.events }, machine, found)),
        }) });
      app.register(cloudInitRoutes, {
        auth, events: bootEvents, cache: renderCache, publicUrl, sshKeys: config.cloudInit.sshKeys, apt: config.cloudInit.apt,
        systemFinished: (machine, result) => deployments.systemFinished(machine, result),
      });
      closers.push(() => app.close());
      bootApp = app;
    }

    let apiApp: FastifyInstance | null = null;
    if (config.api.enabled) {
      const api = await buildApiApp({
        store, service, tagging, catalogue, token: operatorToken(config), log, userData: { checker: userDataChecker, cache: renderCache }, images, limits: config.api, metrics, deployments,
      });
      closers.push(() => api.close());
      apiApp = api;
    }

    const listen = async (): Promise<Appliance> => {
      try {
        let httpAddress: Appliance['httpAddress'] = null;
        if (bootApp) {
          const { host, port, maxConnections } = config.http;
          httpAddress = await listenHttp(bootApp, { name: 'boot HTTP listener', hostKey: 'http.host', portKey: 'http.port', host, port, maxConnections });
        }
        let apiAddress: Appliance['apiAddress'] = null;
        if (apiApp) {
          apiAddress = await listenHttp(apiApp, { name: 'operator API', hostKey: 'api.host', portKey: 'api.port', host: config.api.host, port: config.api.port });
          if (!isLoopback(config.api.host)) log.warn({ host: config.api.host }, 'the operator API is reachable from other hosts (api.host is not loopback): keep it off the boot network');
        }
        if (config.tftp.enabled) {
          const files = tftpNamespace({ loaders: tftpLoaderFiles(config.boot), images, booter, events: bootEvents, macOfAddress });
          const tftp = await startTftpServer({
            host: tftpHost(config), port: config.tftp.port, files, log, metrics,
            options: {
              mtu: config.tftp.mtu, maxTransfers: config.tftp.maxTransfers, maxPerClient: config.tftp.maxPerClient,
              timeoutMs: config.tftp.timeoutMs, retries: config.tftp.retries, maxWindow: config.tftp.maxWindow,
            },
            ...(config.tftp.workers === undefined ? {} : { workers: config.tftp.workers }),
            cacheBytes: config.tftp.cacheMiB * 1024 * 1024,
            events: (event) => {
              const mac = macOfAddress(event.address);
              const entry = mac ? tftpTimelineEvent(event, mac) : null; // null: the tsize probe (FACTS.md)
              if (entry) bootEvents.record(entry);
            },
          });
          closers.push(() => tftp.close());
        }
        if (config.dhcp?.enabled && proxyMode) {
          // Beside the site's DHCP server: boot information to PXE clients only, no address, no lease.
          const started = await startProxyDhcpServer({
            config: config.dhcp, booter, events: bootEvents, metrics, log,
            bootScriptUrl: (mac: string) => `${publicUrl}/boot/${mac}.ipxe`,
            loaders: loaderChoice(config.boot, publicUrl),
          });
          proxy = started;
          closers.push(() => started.close());
        } else if (config.dhcp?.enabled) {
          const dhcp: DhcpServer = await startDhcpServer({
            config: config.dhcp, leases: store.leases, booter, events: bootEvents, metrics, log,
            bootScriptUrl: (mac: string) => `${publicUrl}/boot/${mac}.ipxe`,
            loaders: loaderChoice(config.boot, publicUrl),
            relays: store.relays,
          });
          closers.push(() => dhcp.close());
        }
        // IPv6 RAs that end iPXE's wait for a router (issue 17), on dhcp.interface only.
        const raInterface = routerAdvertInterface(config, (message) => log.warn(message));
        if (raInterface) {
          const ra = RouterAdvertiser.start({ interface: raInterface, intervalSeconds: config.ipv6RouterAdvert.intervalSeconds, log });
          closers.push(() => ra.close());
        }
        const dhcpOn = Boolean(config.dhcp?.enabled);
        log.info({ publicUrl, http: httpAddress, api: apiAddress, dataDir: config.dataDir, dhcp: dhcpOn, ...(dhcpOn ? { dhcpMode: config.dhcp!.mode } : {}) }, 'netboot is serving');
        return { store, images, publicUrl, httpAddress, apiAddress, close };
      } catch (error) {
        await close();
        throw error;
      }
    };
    return { store, images, publicUrl, service, tagging, auth, bootEvents, renderCache, metrics, bootApp, apiApp, listen, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** cloud-init's own schema check of operator user-data, when this host can run it (config cloudInit). */
async function schemaChecker(config: CloudInitConfig, log: Logger): Promise<SchemaChecker> {
  if (config.schemaCheck === 'off') return cloudInitSchemaChecker(config.command, false);
  const version = await cloudInitVersion(config.command);
  if (version === undefined) {
    const hint = `\`${config.command} --version\` does not run here (Debian: apt-get install cloud-init, then touch /etc/cloud/cloud-init.disabled)`;
    if (config.schemaCheck === 'required') throw new ConfigError(`cloudInit.schemaCheck is required but ${hint}`);
    log.warn(`operator user-data is checked as YAML only: ${hint}`);
    return cloudInitSchemaChecker(config.command, false);
  }
  log.debug({ version }, 'operator user-data is checked with cloud-init schema');
  return cloudInitSchemaChecker(config.command, true);
}
