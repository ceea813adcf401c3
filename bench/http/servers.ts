// The two HTTP servers bench.ts compares, each started by this run inside the server namespace
// (`ip netns exec` execs the server itself, so the PID we hold is the server's) and stopped by that
// PID. nginx never runs as the host's service: it is started from its binary with a configuration
// written into the work folder, in the foreground, listening only on the namespace's address.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, stopChild } from '../tftp/servers.js';

export interface RunningServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  cpuSeconds(): number;
  /** Resident set size now (VmRSS) and at its peak (VmHWM), in KiB. */
  rssKiB(): { now: number; peak: number };
  openFds(): number;
  /** Stops it; resolves with what it printed on stdout. */
  stop(): Promise<string>;
}

export interface ServerSpec {
  readonly ns: string;
  readonly address: string;
  readonly port: number;
  readonly work: string;
  /** The folder that holds files/<id>. */
  readonly root: string;
  readonly id: string;
}

/**
 * nginx as the issue measured it: Debian's 1.22 with sendfile (and tcp_nopush, as its packaged
 * nginx.conf has). `workers` worker processes (1: one process, as netboot is one). Without sendfile
 * it copies through user space as netboot's send stream did, in chunks of output_buffers (64 KiB).
 */
export function nginxCommand(spec: ServerSpec, workers: number, sendfile: boolean): string[] {
  const conf = join(spec.work, 'nginx.conf');
  writeFileSync(conf, `
daemon off;
master_process on;
worker_processes ${workers};
pid ${join(spec.work, 'nginx.pid')};
error_log ${join(spec.work, 'nginx-error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile ${sendfile ? 'on' : 'off'};
  tcp_nopush on;
  output_buffers 2 64k;
  client_body_temp_path ${spec.work}/nginx-body;
  proxy_temp_path ${spec.work}/nginx-proxy;
  fastcgi_temp_path ${spec.work}/nginx-fastcgi;
  uwsgi_temp_path ${spec.work}/nginx-uwsgi;
  scgi_temp_path ${spec.work}/nginx-scgi;
  types { }
  default_type application/octet-stream;
  server {
    listen ${spec.address}:${spec.port};
    root ${spec.root};
  }
}
`);
  return ['/usr/sbin/nginx', '-c', conf, '-e', join(spec.work, 'nginx-error.log')];
}

export function netbootCommand(spec: ServerSpec, entry: string, file: string): string[] {
  // The compiled entry lives under node_modules/.cache: kept as reached (not resolved), so that the
  // addons are looked up in this checkout's build/ even where node_modules is a link to another's.
  return [process.execPath, '--preserve-symlinks', '--preserve-symlinks-main', entry, file, spec.id, spec.address, String(spec.port)];
}

export async function startServer(name: string, spec: ServerSpec, command: string[], ready: () => Promise<boolean>): Promise<RunningServer> {
  const child = spawn('ip', ['netns', 'exec', spec.ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.on('data', (d: Buffer) => stdout.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const pid = child.pid!;
  const server: RunningServer = {
    name, pid, url: `http://${spec.address}:${spec.port}/files/${spec.id}`,
    // nginx's master only accepts: its workers (children) do the work; their CPU is reaped only at
    // exit, so it is read from them while they run.
    cpuSeconds: () => [pid, ...childPids(pid)].reduce((sum, p) => sum + selfCpuSeconds(p), 0),
    rssKiB: () => sumOver([pid, ...childPids(pid)], rss),
    openFds: () => [pid, ...childPids(pid)].reduce((n, p) => n + fdCount(p), 0),
    stop: async () => {
      await stopChild(child);
      return stdout.join('');
    },
  };
  const deadline = Date.now() + 20_000;
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = child.exitCode === null ? 'no answer in 20 s' : `exit ${child.exitCode}`;
      await server.stop();
      throw new Error(`${name} did not start (${why}):\n${stderr.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return server;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** utime + stime of the process itself (cpuSeconds of ../tftp adds reaped children: 0 while they run). */
function selfCpuSeconds(pid: number): number {
  return cpuSeconds(pid) - reapedCpuSeconds(pid);
}

function reapedCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime (fields 16, 17)
  } catch {
    return 0;
  }
}

function rss(pid: number): { now: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { now: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return { now: 0, peak: 0 };
  }
}

function sumOver(pids: number[], read: (pid: number) => { now: number; peak: number }): { now: number; peak: number } {
  return pids.map(read).reduce((a, b) => ({ now: a.now + b.now, peak: a.peak + b.peak }), { now: 0, peak: 0 });
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}
