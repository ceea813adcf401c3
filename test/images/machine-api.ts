// The appliance's side of the commissioning/testing callbacks, as small as the runner tests need:
// a node:http server on 127.0.0.1 that serves a scripts tar, answers ping, records every request
// and lets a test change any answer. The tar is laid out as src/enlist/bundle.ts lays it out.
import { Buffer } from 'node:buffer';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pack } from 'tar-stream';

export interface Recorded {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Answer { readonly status: number; readonly body?: string | Buffer }

export const TOKEN = 'tok-3f9a1c';

export interface BundleScript {
  readonly name: string;
  readonly timeout: number;
  readonly content: string | Buffer;
  /** Written as `<path>.env`, KEY='value' lines. */
  readonly env?: Readonly<Record<string, string>>;
}

const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/** A ustar archive of ENTRIES (path -> content), in that order; paths in EXECUTABLE get mode 0755. */
export async function tarOf(entries: Readonly<Record<string, string | Buffer>>, executable: ReadonlySet<string> = new Set()): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => { archive.on('end', resolve); archive.on('error', reject); });
  for (const [name, content] of Object.entries(entries)) {
    await new Promise<void>((resolve, reject) => {
      archive.entry({ name, mode: executable.has(name) ? 0o755 : 0o644, mtime: new Date(0) }, Buffer.from(content),
        (err) => (err ? reject(err) : resolve()));
    });
  }
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** index.tsv + scripts/<name> (0755) + scripts/<name>.env, plus any extra entries. */
export function scriptsTar(scripts: readonly BundleScript[], extra: Readonly<Record<string, string | Buffer>> = {}): Promise<Buffer> {
  const entries: Record<string, string | Buffer> = {
    'index.tsv': scripts.map((s) => `${s.name}\t${s.timeout}\tscripts/${s.name}\n`).join(''),
  };
  for (const s of scripts) {
    entries[`scripts/${s.name}`] = s.content;
    if (s.env) entries[`scripts/${s.name}.env`] = Object.entries(s.env).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join('');
  }
  return tarOf({ ...entries, ...extra }, new Set(scripts.map((s) => `scripts/${s.name}`)));
}

export class MachineApi {
  readonly requests: Recorded[] = [];
  /** Answers the test sets per path (without query); unset paths get the defaults. */
  readonly answers = new Map<string, (req: Recorded) => Answer>();
  tar: Buffer = Buffer.alloc(0);

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<MachineApi> {
    const holder: { api?: MachineApi } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        holder.api!.requests.push(rec);
        const answer = holder.api!.answer(rec);
        res.writeHead(answer.status, { 'content-type': 'application/octet-stream' });
        res.end(answer.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.api = new MachineApi(server, `http://127.0.0.1:${port}`);
    return holder.api;
  }

  private answer(rec: Recorded): Answer {
    const path = rec.url.split('?')[0]!;
    const custom = this.answers.get(path);
    if (custom) return custom(rec);
    if (rec.headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: 'bad token' };
    switch (path) {
      case '/api/v1/machine/scripts': return { status: 200, body: this.tar };
      case '/api/v1/machine/results': return { status: 204 };
      case '/api/v1/machine/finished': return { status: 200, body: '{"state":"Ready"}' };
      case '/api/v1/machine/ping': return { status: 200, body: 'pong' };
      default: return { status: 404, body: 'no such route' };
    }
  }

  /** Requests to PATH (without query), in order. */
  to(path: string): Recorded[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  /** The JSON bodies of the posted results, in order. */
  results(): ResultBody[] {
    return this.to('/api/v1/machine/results').map((r) => JSON.parse(r.body.toString('utf8')) as ResultBody);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface ResultBody {
  phase: string;
  name: string;
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  files: Record<string, string>;
}

export const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
