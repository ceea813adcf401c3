// Shared by the deploy and erase script tests: run a script of deploy/builtin the way the runner
// does (its own working folder, NETBOOT_* exported, parameters in the environment), make loop
// devices on sparse files and always take them down again, and serve a file over HTTP with Range.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { put } from '../images/fake-machine.js';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const builtinDir = join(repo, 'deploy', 'builtin');
export const libDir = join(repo, 'images', 'micro', 'rootfs');
export const MiB = 1024 * 1024;

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** Loop devices need root, util-linux and a free loop device (`losetup -f` only looks for one);
 * the partition test also gdisk and dosfstools. */
export const canLoop = process.getuid?.() === 0 && has('losetup') && has('blockdev') && spawnSync('losetup', ['-f']).status === 0;
export const canPartition = canLoop && has('sgdisk') && has('mkfs.vfat') && has('mkfs.ext4');
export const hasZstd = has('zstd');

export interface ScriptRun { code: number | null; stdout: string; stderr: string; lastErr: string }

/** Runs deploy/builtin/NAME with bash in CWD (fresh, like the runner's) and the given environment. */
export function runScript(name: string, cwd: string, env: Record<string, string>): Promise<ScriptRun> {
  mkdirSync(cwd, { recursive: true });
  return new Promise((done) => {
    const child = spawn('bash', [join(builtinDir, name)], {
      cwd, env: { PATH: process.env.PATH, NETBOOT_LIB: libDir, NETBOOT_TOKEN: 'tok-test', TMPDIR: cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => done({ code, stdout, stderr, lastErr: stderr.trimEnd().split('\n').at(-1) ?? '' }));
  });
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Loop devices over sparse files in DIR. detachAll() unmounts whatever is mounted below DIR first;
 * it touches no other device. */
export class Loops {
  private readonly devices: string[] = [];
  constructor(private readonly dir: string) {}

  attach(bytes: number, fill?: number, readOnly = false): string {
    const file = join(this.dir, `disk${this.devices.length}.img`);
    if (fill === undefined) run('truncate', ['-s', String(bytes), file]);
    else writeFileSync(file, Buffer.alloc(bytes, fill));
    const dev = run('losetup', ['-f', '--show', '-P', ...(readOnly ? ['-r'] : []), file]).trim();
    this.devices.push(dev);
    return dev;
  }

  detachAll(): void {
    const mounts = run('awk', ['-v', `d=${this.dir}/`, 'index($2, d) == 1 { print $2 }', '/proc/mounts'])
      .split('\n').filter(Boolean).sort().reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    for (const dev of this.devices.splice(0)) spawnSync('losetup', ['-d', dev]);
  }
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Our HTTP file server with Range (RFC 9110 §14): GET PATH -> FILES[PATH]; `bytes=N-` gets a 206.
 * dropOnce: the first full (non-Range) GET of a file sends that many bytes and cuts the connection.
 * noRange: answer every GET with the whole file (200), as a server without Range support does. */
export class RangeServer {
  readonly requests: { path: string; range?: string; auth?: string }[] = [];
  private server?: Server;
  constructor(private readonly files: Record<string, Buffer>, private dropOnce?: number, private readonly noRange = false) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '';
      this.requests.push({ path, range: req.headers.range, auth: req.headers.authorization });
      const data = this.files[path];
      if (!data) { res.writeHead(404).end('not found\n'); return; }
      const m = this.noRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      if (start > data.length) { res.writeHead(416).end(); return; }
      res.writeHead(m ? 206 : 200, {
        'content-length': data.length - start,
        ...(m ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
      });
      if (!m && this.dropOnce !== undefined) {
        const cut = this.dropOnce;
        this.dropOnce = undefined;
        res.write(data.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 50));
        return;
      }
      res.end(data.subarray(start));
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((ok) => server.close(() => ok()));
  }
}

/** A small root tree as a .tar.zst, with a payload big enough (2 MiB, incompressible) to cut. */
export function rootTarball(dir: string): Buffer {
  const tree = join(dir, 'tree');
  put(tree, 'etc/hostname', 'debian\n');
  put(tree, 'etc/machine-id', '');
  put(tree, 'usr/lib/payload.bin', randomBytes(2 * 1024 * 1024));
  spawnSync('ln', ['-s', 'usr/lib', join(tree, 'lib')]);
  spawnSync('chmod', ['4755', join(tree, 'usr/lib/payload.bin')]);
  const tar = spawnSync('sh', ['-c', `tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "${tree}" -cf - . | zstd -3 -q -c`], { maxBuffer: 64 * 1024 * 1024 });
  if (tar.status !== 0) throw new Error(tar.stderr.toString());
  return tar.stdout;
}
