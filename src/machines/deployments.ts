// Deploy and release as operator actions with options (issue 13): what MAAS's deploy form and Ironic's
// instance_info carry, checked before anything changes, then stored with the transition in one
// transaction (MachineService.act's extras). The table (lifecycle-table.ts) decides what happens; this
// file decides whether the options make sense: the image exists and is of the right kind, the
// user-data passes cloud-init's own schema, the names are plain.
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { OperatorUserData } from '../cloud-init/operator-user-data.js';
import type { EventSink } from './boot.js';
import type { Deployment, EraseMode, Machine } from './model.js';
import type { MachineService } from './service.js';
import { runningSystem } from './script-runs.js';
import { eventKey } from './boot.js';

/** What an operator asks for (API body, CLI flags); every field optional. */
export interface DeployRequest {
  readonly image?: string;
  readonly userData?: string;
  readonly sshKeys?: readonly string[];
  readonly hostname?: string;
  readonly kernelArgs?: string;
  readonly disk?: string;
  readonly inMemory?: boolean;
}

export interface ReleaseRequest {
  readonly erase?: boolean;
  readonly eraseMode?: EraseMode;
}

/** The images a deployment may name, by kind. */
export interface DeployableImages {
  /**
   * Names of the disk images (root tarballs the installer writes), or of the boot images whose
   * environment is cloud-init (what a memory deployment boots), after looking for `wanted` (an image
   * built since the appliance started is found: the catalogue reloads on a miss).
   */
  names(kind: 'disk' | 'cloud-init', wanted: string): readonly string[];
}

export interface DeploymentsDeps {
  readonly service: Pick<MachineService, 'act' | 'assertAccepts' | 'get'>;
  readonly images: DeployableImages;
  /** Defaults (config): the disk image and the in-memory image when the operator names none. */
  readonly defaultDiskImage: string;
  readonly defaultMemoryImage: string;
  readonly defaultEraseMode: EraseMode;
  /** Parses the operator's user-data (throws ValidationError with the reason). */
  readonly parseUserData: (text: string) => OperatorUserData;
  /** cloud-init's schema check of a cloud-config (a subprocess; throws ValidationError with cloud-init's reason). */
  readonly checkCloudConfig: (text: string) => Promise<void>;
  /** The timeline: a deployed system that finished with errors says so there. */
  readonly events: EventSink;
  /** Called after a deploy that replaced the user-data: rendered seeds of the machine are stale. */
  readonly onUserDataChanged?: (machineId: string) => void;
  readonly now?: () => number;
}

/** Kernel block device names (vda, sdb, nvme0n1, mmcblk0): never a path, never a partition spec. */
const DISK_NAME = /^[a-z][a-z0-9]{1,31}$/;
/** An OpenSSH public key line: type, base64 body, optional comment (sshd's authorized_keys format). */
const SSH_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n\0]{0,256})?$/;
/** One line of printable ASCII: the kernel command line has no quoting for anything else. */
const KERNEL_ARGS = /^[\x20-\x7e]{0,1024}$/;

export class Deployments {
  constructor(private readonly deps: DeploymentsDeps) {}

  /**
   * Starts a deployment: refused (409 naming the state) before anything is checked that takes time;
   * an unknown image is a 404 listing the images; bad user-data a 400 with cloud-init's reason.
   * Nothing is stored unless the transition is.
   */
  async deploy(key: string, request: DeployRequest): Promise<Machine> {
    const target = request.inMemory === true ? 'memory' : 'disk';
    const machine = this.deps.service.assertAccepts(key, { type: 'deploy', target });
    const deployment = this.plan(request, target);
    if (request.hostname !== undefined) this.checkHostname(machine, request.hostname);
    let userData: string | undefined;
    if (request.userData !== undefined) {
      const parsed = this.deps.parseUserData(request.userData);
      if (parsed.kind === 'cloud-config') await this.deps.checkCloudConfig(parsed.text);
      userData = parsed.kind === 'none' ? '' : parsed.text;
    }
    // Read again after the schema check: the lock or the state may have changed meanwhile (act refuses then).
    const after = this.deps.service.act(machine.id, { type: 'deploy', target }, {
      deployment,
      ...(request.hostname !== undefined ? { hostname: request.hostname } : {}),
      ...(userData !== undefined ? { userData } : {}),
    });
    if (userData !== undefined) this.deps.onUserDataChanged?.(after.id);
    return after;
  }

  /** release, or release --erase with a mode (the configured default when none is given). */
  release(key: string, request: ReleaseRequest): Machine {
    if (request.eraseMode !== undefined && request.erase !== true) {
      throw new ValidationError(`an erase mode (${request.eraseMode}) only goes with erase: release --erase --${request.eraseMode}`);
    }
    return this.deps.service.act(key, { type: 'release', ...(request.erase ? { erase: true } : {}) },
      request.erase ? { eraseMode: request.eraseMode ?? this.deps.defaultEraseMode } : {});
  }

  /**
   * The deployed system (disk or memory) or rescue mode reported cloud-init's last stage: that ends
   * Deploying (-> Deployed) and Entering rescue (-> Rescue). The first report does it (phone_home and
   * the modules-final event both come, deploy.md §0.3); later ones, and every reboot's, change nothing.
   * A result other than SUCCESS is "up, with errors": the machine is Deployed and the timeline says why.
   */
  systemFinished(machine: Machine, result: string): void {
    // Only the transitions wait for it (Deployed and Rescue keep reporting on every boot); an installer
    // still running reports through its runner, not this way.
    if ((machine.state !== 'Deploying' && machine.state !== 'Entering rescue') || !runningSystem(machine)) return;
    if (machine.state === 'Deploying' && result !== 'SUCCESS') {
      this.deps.events.record({ ...eventKey(machine), type: 'note', detail: `cloud-init of the deployed system finished with ${result}: see cloud-init events above` });
    }
    try {
      this.deps.service.act(machine.id, { type: 'phase-passed' });
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err; // raced another report or an abort: already settled
    }
  }

  private plan(request: DeployRequest, target: Deployment['target']): Deployment {
    const { images } = this.deps;
    const image = request.image ?? (target === 'disk' ? this.deps.defaultDiskImage : this.deps.defaultMemoryImage);
    const available = images.names(target === 'disk' ? 'disk' : 'cloud-init', image);
    if (!available.includes(image)) {
      const kind = target === 'disk' ? 'disk image' : 'cloud-init boot image';
      const hint = target === 'disk' ? ' (build one: netboot images build debian-disk)' : ' (an --in-memory deployment boots one; build one: netboot images build debian)';
      throw new NotFoundError(`no ${kind} '${image}': the ${kind}s are ${available.length ? available.join(', ') : 'none'}${hint}`);
    }
    if (request.disk !== undefined && target === 'memory') throw new ValidationError('--disk does not go with --in-memory: a memory deployment writes no disk');
    if (request.disk !== undefined && !DISK_NAME.test(request.disk)) {
      throw new ValidationError(`disk '${request.disk}' is not a kernel disk name such as vda, sda or nvme0n1`);
    }
    if (request.kernelArgs !== undefined && !KERNEL_ARGS.test(request.kernelArgs)) {
      throw new ValidationError('kernel arguments must be one line of printable ASCII, at most 1024 characters');
    }
    const sshKeys = (request.sshKeys ?? []).map((k) => k.trim());
    const bad = sshKeys.find((k) => !SSH_KEY.test(k));
    if (bad !== undefined) throw new ValidationError(`not an OpenSSH public key: ${JSON.stringify(bad.slice(0, 40))}… (expected e.g. "ssh-ed25519 AAAA… comment")`);
    return {
      target, image, sshKeys, startedAt: (this.deps.now ?? Date.now)(),
      ...(request.disk !== undefined ? { disk: request.disk } : {}),
      ...(request.kernelArgs ? { kernelArgs: request.kernelArgs } : {}),
    };
  }

  private checkHostname(machine: Machine, hostname: string): void {
    let other: Machine | undefined;
    try {
      other = this.deps.service.get(hostname);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (other && other.id !== machine.id) throw new ConflictError(`hostname ${hostname} is taken by ${other.id}`);
  }
}
