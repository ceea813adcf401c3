// Pure NoCloud renderers: a machine and its run in, document text out (exact-text goldens in
// test/cloud-init). cloud-init 22.4 fetches <seed>meta-data, user-data and vendor-data, in that
// order and once each (FACTS.md); network-config is served for the releases that fetch it too.
import { dump, load } from 'js-yaml';
import type { RunPhase } from '../machines/lifecycle.js';
import type { Machine } from '../machines/model.js';
import { CloudInitError } from '../errors.js';
import { multipart, type MimePart } from './mime.js';
import type { OperatorUserData } from './operator-user-data.js';

/** What the documents of one machine's current boot are rendered from. */
export interface SeedContext {
  readonly machine: Machine;
  /** The phase whose scripts the environment runs. */
  readonly phase: RunPhase;
  /** Base URL of the boot-side listener, no trailing slash. */
  readonly publicUrl: string;
  /** The run's token (the seed URL carries it: /cloud-init/<token>/). */
  readonly token: string;
  /** SSH public keys for the ephemeral environment (config cloudInit.sshKeys). */
  readonly sshKeys: readonly string[];
}

export const seedDocuments = ['meta-data', 'user-data', 'vendor-data', 'network-config', 'cloud-config'] as const;
export type SeedDocument = (typeof seedDocuments)[number];

/** `<publicUrl>/cloud-init/<token>`: the seed URL without its trailing slash. */
export function seedBase(publicUrl: string, token: string): string {
  return `${publicUrl}/cloud-init/${token}`;
}

/**
 * Stable for one run of one machine, new for the next: cloud-init runs its per-instance modules
 * again only when the id changes, and each commissioning or testing run is a new instance.
 */
export function instanceId(machine: Machine, phase: SeedContext['phase']): string {
  return `${machine.id}-${phase}-${machine.runId ?? 0}`;
}

/** Deterministic YAML: sorted keys, no anchors, no line folding (js-yaml would wrap long URLs). */
export function yaml(value: unknown): string {
  return dump(value, { sortKeys: true, noRefs: true, lineWidth: -1 });
}

export function renderMetaData(ctx: SeedContext): string {
  return yaml({
    'instance-id': instanceId(ctx.machine, ctx.phase),
    'local-hostname': ctx.machine.hostname,
    ...(ctx.sshKeys.length > 0 ? { 'public-keys': [...ctx.sshKeys] } : {}),
  });
}

/**
 * The `cloud-config-url=` document (kernel command line): cloud-init's local stage fetches it before
 * any datasource and keeps it as system config (/etc/cloud/cloud.cfg.d/91_kernel_cmdline_url.cfg),
 * which is how MAAS points reporting at itself. Reporting configured in user-data would only start
 * with the modules stages; from here every stage, init-local included, posts its events.
 */
export function renderCmdlineConfig(ctx: Pick<SeedContext, 'publicUrl' | 'token'>): string {
  return `#cloud-config\n${yaml({
    reporting: { netboot: { type: 'webhook', endpoint: `${seedBase(ctx.publicUrl, ctx.token)}/events` } },
  })}`;
}

/** Vendor data: what the appliance sets for every machine, below the operator's user-data. */
export function renderVendorData(ctx: SeedContext): string {
  return `#cloud-config\n${yaml({
    // The environment is ephemeral and has no package mirror configured: never touch apt.
    package_update: false,
    package_upgrade: false,
    // cloud-init's final line goes to the serial console the tests and BMC serial-over-LAN read.
    final_message: `netboot: cloud-init finished ${ctx.phase} for ${ctx.machine.id} after $UPTIME s`,
  })}`;
}

/**
 * network-config v2 from the inventory: DHCP on the boot NIC, the other NICs listed but left down
 * (optional, so systemd-networkd-wait-online does not wait for them). Matched by MAC, never by name:
 * names differ between the enlistment kernel and the deployed system.
 */
export function renderNetworkConfig(ctx: Pick<SeedContext, 'machine'>): string {
  const nics = ctx.machine.inventory?.nics ?? [];
  const macs = [...new Set([ctx.machine.bootMac, ...nics.map((n) => n.mac.toLowerCase())])];
  const ethernets: Record<string, unknown> = {};
  macs.forEach((mac, i) => {
    ethernets[`nic${i}`] = mac === ctx.machine.bootMac
      ? { match: { macaddress: mac }, dhcp4: true }
      : { match: { macaddress: mac }, dhcp4: false, optional: true };
  });
  return yaml({ version: 2, ethernets });
}

/**
 * Our part of user-data: the runner of this phase's scripts (the micro image's protocol) as a
 * shell-script part, which cloud-init runs in modules-final (scripts_user) whatever runcmd the
 * operator sets; then a cloud-config part that reports the end of cloud-init (phone_home).
 * The runner only writes "finished": the image's netboot-finished.service posts it after
 * cloud-final.service, because the appliance powers the machine off as soon as the phase ends,
 * which would cut cloud-init's last stages (and the operator's runcmd) short.
 */
function netbootParts(ctx: SeedContext): MimePart[] {
  const base = seedBase(ctx.publicUrl, ctx.token);
  const env = {
    NETBOOT_URL: ctx.publicUrl, NETBOOT_TOKEN: ctx.token, NETBOOT_PHASE: ctx.phase, NETBOOT_BOOT_MAC: ctx.machine.bootMac ?? '',
  };
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  const script = [
    '#!/bin/sh',
    `# netboot: ${ctx.phase} scripts for ${ctx.machine.id}, results posted to the appliance`,
    ...exports,
    // The env file the micro initrd writes would take precedence over the environment: not here.
    'export NETBOOT_ENV_FILE=/dev/null',
    'exec /usr/lib/netboot/runner --defer-finished',
    '',
  ].join('\n');
  const config = `#cloud-config\n${yaml({
    phone_home: { url: `${base}/phone-home`, post: ['instance_id', 'hostname'], tries: 3 },
    // Never from cloud-init (also not from the operator's part, which this one overrides): a
    // shutdown as cloud-final ends would race netboot-finished.service's post, which powers off.
    power_state: { mode: 'poweroff', condition: false },
  })}`;
  return [
    // scripts_user runs its folder in name order, runcmd's file ("runcmd") included: "zz-" puts
    // ours after the operator's scripts, as documented.
    { filename: 'zz-netboot-runner.sh', contentType: 'text/x-shellscript', body: script },
    { filename: 'netboot.cfg', contentType: 'text/cloud-config', body: config },
  ];
}

/**
 * user-data: multipart MIME, the operator's part first and ours after it. cloud-init merges
 * cloud-config parts in order, a later part replacing the keys it sets (the default merge_how), so
 * the operator's keys stand except the two ours needs (phone_home, power_state); shell-script parts
 * and runcmd all run, the operator's first.
 */
export function renderUserData(ctx: SeedContext, operator: OperatorUserData): string {
  const parts: MimePart[] = [];
  if (operator.kind === 'cloud-config') parts.push({ filename: 'operator.cfg', contentType: 'text/cloud-config', body: operator.text });
  if (operator.kind === 'script') parts.push({ filename: 'operator.sh', contentType: 'text/x-shellscript', body: operator.text });
  parts.push(...netbootParts(ctx));
  return multipart(parts);
}

/** Our cloud-config documents must parse as what they claim to be before they leave (a bug, never input). */
export function checkRendered(name: SeedDocument, text: string): string {
  if (name === 'user-data') return text; // its parts were checked when they were rendered or stored
  try {
    const value = load(text.replace(/^#cloud-config\n/, ''));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a YAML mapping');
  } catch (err) {
    throw new CloudInitError(`rendered ${name} is not a YAML mapping: ${(err as Error).message}`, { cause: err });
  }
  return text;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
