// Where a server's CPU time goes: a summary of the V8 CPU profile `node --cpu-prof` writes at exit
// (the .cpuprofile JSON format of the Chrome DevTools protocol, Profiler.Profile). Self time per
// function and per file, and inclusive ("total") time per function, counted once per stack.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

export interface ProfileRow { readonly name: string; readonly selfPct: number; readonly totalPct?: number }
export interface ProfileSummary {
  readonly file: string;
  readonly seconds: number;
  /** Share of samples where V8 was idle (waiting in epoll). */
  readonly idlePct: number;
  readonly functions: readonly ProfileRow[];
  readonly files: readonly ProfileRow[];
  readonly inclusive: readonly ProfileRow[];
}

const IDLE = '(idle)';

function shortUrl(url: string, root: string): string {
  if (!url) return '';
  let path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + 1);
  if (path.startsWith(root)) path = path.slice(root.length + 1);
  return path;
}

function functionKey(frame: CallFrame, root: string): string {
  const url = shortUrl(frame.url, root);
  const name = frame.functionName || '(anonymous)';
  return url ? `${name} ${url}:${frame.lineNumber + 1}` : name;
}

function fileKey(frame: CallFrame, root: string): string {
  const url = shortUrl(frame.url, root);
  if (!url) return frame.functionName || '(anonymous)';
  // node_modules/<pkg>/... -> the package; node:internal/... stays whole
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return pkg ? `node_modules/${pkg[1]}` : url;
}

/** Summarises the newest .cpuprofile in `dir`; `root` is stripped from file paths. */
export function summarizeProfile(dir: string, root: string, top = 20): ProfileSummary | undefined {
  const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
  if (!file) return undefined;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const samples = profile.samples.length || 1;

  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  for (const [id, count] of hits) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === IDLE) idle += count;
    const fk = functionKey(frame, root);
    self.set(fk, (self.get(fk) ?? 0) + count);
    const file = fileKey(frame, root);
    files.set(file, (files.get(file) ?? 0) + count);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = functionKey(byId.get(at)!.callFrame, root);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + count);
    }
  }
  // Percentages are of the busy samples: idle time (waiting for packets) is reported on its own.
  const total = Math.max(1, samples - idle);
  const synthetic = (name: string): boolean => name.startsWith('(root)') || name === IDLE;
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m].filter(([name]) => !synthetic(name)).sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, count]) => ({ name, selfPct: (100 * count) / total }));
  return {
    file: join(dir, file),
    seconds: (profile.endTime - profile.startTime) / 1e6,
    idlePct: (100 * idle) / samples,
    functions: rows(self),
    files: rows(files),
    inclusive: [...inclusive].filter(([name]) => !synthetic(name)).sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, count]) => ({ name, selfPct: (100 * (self.get(name) ?? 0)) / total, totalPct: (100 * count) / total })),
  };
}

export function printProfile(summary: ProfileSummary, print: (line: string) => void): void {
  const pct = (n: number): string => `${n.toFixed(1).padStart(5)}%`;
  print(`CPU profile ${summary.file}`);
  print(`  ${summary.seconds.toFixed(1)} s of process life, idle ${summary.idlePct.toFixed(1)}% of it; shares below are of the busy time`);
  print('  self time by function:');
  for (const row of summary.functions) print(`    ${pct(row.selfPct)}  ${row.name}`);
  print('  self time by file / package:');
  for (const row of summary.files) print(`    ${pct(row.selfPct)}  ${row.name}`);
  print('  total (inclusive) time by function:');
  for (const row of summary.inclusive) print(`    ${pct(row.totalPct ?? 0)}  ${row.name}`);
}
