// The tar a machine downloads to run a phase (the runner in images/micro reads it): `index.tsv` with
// one line per script in run order (name, timeout seconds, path), each script under scripts/, and a
// `<path>.env` of shell-quoted parameters where it has any. ustar via tar-stream.
import { Buffer } from 'node:buffer';
import { pack } from 'tar-stream';
import type { RunnableScript } from './scripts.js';

/** POSIX shell single quotes: everything literal, a quote as '\''. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function envFile(parameters: Readonly<Record<string, string>>): string {
  return Object.entries(parameters).map(([key, value]) => `${key}=${shellQuote(value)}\n`).join('');
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
