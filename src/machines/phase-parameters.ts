// What the built-in commissioning, deployment and erasing scripts (commissioning/builtin,
// deploy/builtin) are told about this machine's run, as the parameters of their bundle entry (the
// runner sources them before each script). The names and meanings are the scripts' contract: see the
// header of each script.
import type { ScriptKind } from '../store/index.js';
import type { EraseMode, Machine } from './model.js';

/** The root tarball of a disk image, as the installer fetches and checks it. */
export interface InstallableImage {
  /** Content id: served at <publicUrl>/files/<id> with Range (the installer resumes a cut download). */
  readonly id: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Bytes the unpacked root needs: the installer refuses a smaller disk with both sizes. */
  readonly rootBytes: number;
}

export interface PhaseParameterDeps {
  /** Base URL of the boot-side listener, no trailing slash. */
  readonly publicUrl: string;
  /** The root tarball of a disk image by name; throws when it is gone (the run then fails with that reason). */
  readonly installable: (image: string) => InstallableImage;
  readonly defaultEraseMode: EraseMode;
  /** commissioning/builtin/30-bmc-config: create the appliance's BMC user, and its name (config bmc). */
  readonly bmc: { readonly createUser: boolean; readonly username: string };
}

export function phaseParameters(deps: PhaseParameterDeps) {
  return (machine: Machine, phase: ScriptKind): Readonly<Record<string, string>> => {
    if (phase === 'commissioning') return { BMC_CREATE_USER: deps.bmc.createUser ? '1' : '0', BMC_USERNAME: deps.bmc.username };
    if (phase === 'erasing') return { ERASE_MODE: machine.eraseMode ?? deps.defaultEraseMode };
    if (phase !== 'deployment' || !machine.deployment || !machine.token) return {};
    const { deployment } = machine;
    const image = deps.installable(deployment.image);
    return {
      DEPLOY_DISK: deployment.disk ?? '',
      // ?mac= names the machine on the download's timeline event (src/http-boot/file-routes.ts).
      DEPLOY_IMAGE_URL: `${deps.publicUrl}/files/${image.id}?mac=${machine.bootMac}`,
      DEPLOY_IMAGE_SHA256: image.sha256,
      DEPLOY_IMAGE_BYTES: String(image.bytes),
      DEPLOY_ROOT_BYTES: String(image.rootBytes),
      // The deployed system's own seed (src/cloud-init/target-routes.ts), written onto its disk.
      DEPLOY_SEED_URL: `${deps.publicUrl}/cloud-init/${machine.token}/target/`,
      DEPLOY_KERNEL_ARGS: deployment.kernelArgs ?? '',
    };
  };
}
