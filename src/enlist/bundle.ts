// The tar a machine downloads to run a phase (the runner in images/micro reads it): `index.tsv` with
// one line per script in run order (name, timeout seconds, path), each script under scripts/, and a
// `<path>.env` of shell-quoted parameters where it has any. ustar via tar-stream.
import { Buffer } from 'node:buffer';
import { pack } from 'tar-stream';
import { BundleError } from '../errors.js';
import { PARAMETER_NAME, type RunnableScript } from '../machines/scripts.js';

/** POSIX shell single quotes: everything literal, a quote as '\''. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `.env` the runner sources (images/micro/rootfs/runner). A key cannot be quoted there, so one
 * that is not a plain identifier is refused here too, whatever the API let through (probe F8: a key
 * `X=1 $(id>/tmp/p) Y` ran on every commissioned machine; a number value gave a 500).
 */
export function envFile(parameters: Readonly<Record<string, string>>): string {
  return Object.entries(parameters).map(([key, value]) => {
    if (!PARAMETER_NAME.test(key)) throw new BundleError(`script parameter name ${JSON.stringify(key)} must match ${PARAMETER_NAME.source}: not written`);
    if (typeof value !== 'string') throw new BundleError(`script parameter ${key} must be text, not ${typeof value}: not written`);
    return `${key}=${shellQuote(value)}\n`;
  }).join('');
}

export async function scriptBundle(scripts: readonly RunnableScript[], mtime: Date): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  const entry = (name: string, content: Buffer | string, mode: number) =>
    new Promise<void>((resolve, reject) => {
      archive.entry({ name, mode, mtime }, typeof content === 'string' ? Buffer.from(content) : content, (err) => (err ? reject(err) : resolve()));
    });
  const index = scripts.map((s) => `${s.name}\t${s.timeoutSeconds}\tscripts/${s.name}\n`).join('');
  await entry('index.tsv', index, 0o644);
  for (const script of scripts) {
    await entry(`scripts/${script.name}`, script.content, 0o755);
    if (Object.keys(script.parameters).length > 0) await entry(`scripts/${script.name}.env`, envFile(script.parameters), 0o644);
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
