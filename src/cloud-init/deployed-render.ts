// Pure NoCloud renderers for the systems a machine runs as its own (issue 13), beside render.ts's
// script-runner environments: the deployed system on its disk (the installer writes these documents
// into /var/lib/cloud/seed/nocloud on the target, with cloud-config as 90-netboot.cfg), a memory
// deployment (the ephemeral image booted with the operator's user-data) and rescue mode. Each reports
// its last stage to the appliance (phone_home, reporting webhook), which ends Deploying or Entering rescue.
import type { Machine } from '../machines/model.js';
import { multipart, type MimePart } from './mime.js';
import type { OperatorUserData } from './operator-user-data.js';
import { seedBase, yaml } from './render.js';

/** What runs with the seed: the deployed system (disk or memory) or rescue mode. */
export type SystemKind = 'deployed' | 'rescue';

export interface SystemSeedContext {
  readonly machine: Machine;
  readonly kind: SystemKind;
  readonly publicUrl: string;
  readonly token: string;
  /** Keys for the default user (rescue: root): the config's and the deployment's. */
  readonly sshKeys: readonly string[];
  /** config cloudInit.apt: package sources of a deployed system. */
  readonly apt?: { readonly mirror?: string; readonly securityMirror?: string; readonly proxy?: string };
}

/**
 * One instance per deployment (its start time) and per rescue session (its token): cloud-init runs
 * per-instance modules (users, keys, host keys, phone_home) once per deployment, and a reboot of the
 * deployed system is the same instance (recipe deploy.md §3.4).
 */
export function systemInstanceId(ctx: SystemSeedContext): string {
  const { machine } = ctx;
  return ctx.kind === 'deployed'
    ? `${machine.id}-deploy-${machine.deployment?.startedAt ?? 0}`
    : `${machine.id}-rescue-${ctx.token.slice(0, 8)}`;
}

export function renderSystemMetaData(ctx: SystemSeedContext): string {
  return yaml({ 'instance-id': systemInstanceId(ctx), 'local-hostname': ctx.machine.hostname });
}

/**
 * Vendor data: below the operator's user-data (the operator's keys and apt settings win); the last
 * line on the console, and for a deployed system the site's package sources (cloud-init cc_apt_configure:
 * `primary` and `security` replace the archive URLs in the sources.list it renders from the image's
 * Debian template, before `packages:` runs).
 */
export function renderSystemVendorData(ctx: SystemSeedContext): string {
  const { mirror, securityMirror, proxy } = ctx.apt ?? {};
  const apt: Record<string, unknown> = {};
  if (mirror) apt.primary = [{ arches: ['default'], uri: mirror }];
  if (securityMirror) apt.security = [{ arches: ['default'], uri: securityMirror }];
  if (proxy) apt.proxy = proxy;
  return `#cloud-config\n${yaml({
    final_message: `netboot: ${ctx.kind === 'rescue' ? 'rescue mode' : 'deployed system'} ${ctx.machine.id} up after $UPTIME s`,
    ...(ctx.kind === 'deployed' && Object.keys(apt).length > 0 ? { apt } : {}),
  })}`;
}

/**
 * The deployed system's system config (90-netboot.cfg on its disk): NoCloud from the local seed only,
 * the appliance's reporting webhook (every stage reports; it cannot be switched off by user-data), and
 * manual_cache_clean, without which a reboot with the appliance gone is a new instance that loses its
 * user-data and regenerates host keys (deploy.md §3.4, measured).
 */
export function renderTargetSystemConfig(ctx: SystemSeedContext): string {
  return `#cloud-config\n${yaml({
    datasource_list: ['NoCloud', 'None'],
    manual_cache_clean: true,
    reporting: { netboot: { type: 'webhook', endpoint: `${seedBase(ctx.publicUrl, ctx.token)}/events` } },
  })}`;
}

/**
 * user-data: the operator's part first, ours after it (ours only adds keys and the phone_home call).
 * Rescue mode logs in as root with the keys: it is a repair shell for the operator, as MAAS's is.
 */
export function renderSystemUserData(ctx: SystemSeedContext, operator: OperatorUserData): string {
  const parts: MimePart[] = [];
  if (ctx.kind === 'deployed') {
    if (operator.kind === 'cloud-config') parts.push({ filename: 'operator.cfg', contentType: 'text/cloud-config', body: operator.text });
    if (operator.kind === 'script') parts.push({ filename: 'operator.sh', contentType: 'text/x-shellscript', body: operator.text });
  }
  const ours: Record<string, unknown> = {
    phone_home: { url: `${seedBase(ctx.publicUrl, ctx.token)}/phone-home`, post: ['instance_id', 'hostname', 'pub_key_ed25519'], tries: 10 },
    // Merged into the operator's part instead of replacing its keys (cloud-init's default for a later
    // part): our key list is appended to theirs, and a key both set stays theirs.
    merge_how: [{ name: 'list', settings: ['append'] }, { name: 'dict', settings: ['no_replace', 'recurse_list'] }],
  };
  // Top-level keys go to the default user (debian) and, with disable_root false, to root (cc_ssh).
  if (ctx.sshKeys.length > 0) ours.ssh_authorized_keys = [...ctx.sshKeys];
  // Flush the first boot's files (host keys, users, write_files) before phone_home ends the phase: the
  // next power action (rescue, release) is a hard reset, and ext4's delayed allocation left the host
  // keys empty when one came within seconds (measured: ssh.service failed on the next boot).
  if (ctx.kind === 'deployed') ours.runcmd = [['sync']];
  if (ctx.kind === 'rescue') {
    // sshd may have started before cloud-init made the host keys (the image ships none): restart it
    // before phone_home, which comes later in modules-final and tells the appliance rescue is ready.
    Object.assign(ours, { disable_root: false, ssh_pwauth: false, runcmd: [['systemctl', 'restart', 'ssh']] });
  }
  parts.push({ filename: 'netboot.cfg', contentType: 'text/cloud-config', body: `#cloud-config\n${yaml(ours)}` });
  return multipart(parts);
}
