// Operator cloud-config checked by cloud-init itself (`cloud-init schema --config-file`), the same
// schema the machine will apply: an unknown module key or a wrong type is refused when it is stored,
// not discovered in a VM half an hour later. The appliance host needs Debian's cloud-init package
// for this; without it (cloudInit.schemaCheck: auto) only the YAML is checked, and start-up says so.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudInitError, ValidationError } from '../errors.js';

export interface SchemaChecker {
  /** Resolves when cloud-init accepts the cloud-config; rejects with ValidationError and its reason. */
  check(cloudConfig: string): Promise<void>;
  readonly available: boolean;
}

const TIMEOUT_MS = 30_000;

/** The cloud-init executable's answer to --version, or undefined when it cannot run. */
export async function cloudInitVersion(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { timeout: TIMEOUT_MS }, (err, stdout, stderr) => {
      resolve(err ? undefined : `${stdout}${stderr}`.trim());
    });
  });
}

export function cloudInitSchemaChecker(command: string, available: boolean): SchemaChecker {
  return {
    available,
    async check(cloudConfig: string): Promise<void> {
      if (!available) return;
      const dir = await mkdtemp(join(tmpdir(), 'netboot-user-data-'));
      const file = join(dir, 'user-data');
      try {
        await writeFile(file, cloudConfig, { mode: 0o600 });
        const { code, output } = await run(command, ['schema', '--config-file', file]);
        if (code === 0) return;
        // "Cloud config schema errors: runcmd: 5 is not of type 'array'" -> the part after the colon.
        const reason = output.split('\n').map((l) => l.trim())
          .filter((l) => l !== '' && l !== 'Error:' && !/^Cloud config schema deprecations:\s*$/.test(l))
          .join('; ').replace(/Cloud config schema errors:\s*/, '').replaceAll(file, 'user-data');
        throw new ValidationError(`user-data fails cloud-init's schema: ${reason || `cloud-init schema exited ${code}`}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new CloudInitError(`cannot run ${command} schema to check user-data: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, output: `${stdout}${stderr}` });
    });
  });
}
