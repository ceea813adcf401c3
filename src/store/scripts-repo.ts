// Commissioning and testing scripts uploaded by operators, and every run of scripts on a machine with
// its results (ARCHITECTURE.md "Persistence"). Built-in scripts live in the repository
// (commissioning/builtin) and are not stored here.
import type { RunPhase } from '../machines/lifecycle-types.js';
import type { Db } from './db.js';

/** The phases scripts belong to: the life-cycle's script runs (src/machines/lifecycle-types.ts). */
export type ScriptKind = RunPhase;
export type RunStatus = 'running' | 'passed' | 'failed' | 'aborted' | 'timed-out';

/** What a script is, wherever it comes from (uploaded, stored, built in). */
export interface ScriptBody {
  readonly kind: ScriptKind;
  readonly description: string;
  readonly timeoutSeconds: number;
  readonly parameters: Readonly<Record<string, string>>;
  /** Machine tags the script applies to; empty: every machine. */
  readonly tags: readonly string[];
  readonly content: Buffer;
}

export interface StoredScript extends ScriptBody {
  readonly name: string;
  readonly createdAt: number;
}

export interface ScriptResult {
  readonly name: string;
  readonly exitCode: number;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** File name -> content, as the script wrote them to NETBOOT_OUTPUT_DIR. */
  readonly files: Readonly<Record<string, Buffer>>;
  readonly at: number;
}

export interface ScriptRun {
  readonly id: number;
  readonly machineId: string;
  readonly phase: ScriptKind;
  /** The scripts the run was given, in order. */
  readonly scripts: readonly string[];
  readonly status: RunStatus;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly results: readonly ScriptResult[];
}

interface ScriptRow { name: string; kind: string; description: string; timeout_s: number; parameters: string; tags: string; content: Buffer; created_at: number }
interface RunRow { id: number; machine_id: string; phase: string; scripts: string; status: string; started_at: number; finished_at: number | null }
interface ResultRow { run_id: number; name: string; exit_code: number; timed_out: number; duration_ms: number; stdout: Buffer; stderr: Buffer; files: string; at: number }

const toScript = (r: ScriptRow): StoredScript => ({
  name: r.name, kind: r.kind as ScriptKind, description: r.description, timeoutSeconds: r.timeout_s,
  parameters: JSON.parse(r.parameters) as Record<string, string>, tags: JSON.parse(r.tags) as string[],
  content: r.content, createdAt: r.created_at,
});

const toResult = (r: ResultRow): ScriptResult => ({
  name: r.name, exitCode: r.exit_code, timedOut: r.timed_out === 1, durationMs: r.duration_ms,
  stdout: r.stdout, stderr: r.stderr, at: r.at,
  files: Object.fromEntries(Object.entries(JSON.parse(r.files) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
});

export class SqliteScriptStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  list(): StoredScript[] {
    return this.db.prepare<[], ScriptRow>('SELECT * FROM scripts ORDER BY name').all().map(toScript);
  }

  get(name: string): StoredScript | undefined {
    const row = this.db.prepare<[string], ScriptRow>('SELECT * FROM scripts WHERE name = ?').get(name);
    return row && toScript(row);
  }

  /** Adds or replaces the script of this name. */
  put(script: Omit<StoredScript, 'createdAt'>): StoredScript {
    this.db.prepare(
      `INSERT INTO scripts (name, kind, description, timeout_s, parameters, tags, content, created_at)
       VALUES (@name, @kind, @description, @timeout, @parameters, @tags, @content, @at)
       ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, description = excluded.description,
         timeout_s = excluded.timeout_s, parameters = excluded.parameters, tags = excluded.tags, content = excluded.content`,
    ).run({
      name: script.name, kind: script.kind, description: script.description, timeout: script.timeoutSeconds,
      parameters: JSON.stringify(script.parameters), tags: JSON.stringify(script.tags), content: script.content, at: this.now(),
    });
    return this.get(script.name)!;
  }

  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM scripts WHERE name = ?').run(name).changes > 0;
  }

  startRun(machineId: string, phase: ScriptKind, scripts: readonly string[]): number {
    const result = this.db.prepare(
      `INSERT INTO script_runs (machine_id, phase, scripts, status, started_at) VALUES (?, ?, ?, 'running', ?)`,
    ).run(machineId, phase, JSON.stringify(scripts), this.now());
    return Number(result.lastInsertRowid);
  }

  /** Records (or replaces, for a retried POST) one script's result in a run. */
  addResult(runId: number, result: Omit<ScriptResult, 'at'>): void {
    const files = Object.fromEntries(Object.entries(result.files).map(([k, v]) => [k, v.toString('base64')]));
    this.db.prepare(
      `INSERT OR REPLACE INTO script_results (run_id, name, exit_code, timed_out, duration_ms, stdout, stderr, files, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(runId, result.name, result.exitCode, result.timedOut ? 1 : 0, result.durationMs, result.stdout, result.stderr, JSON.stringify(files), this.now());
  }

  /** Bytes a run's results keep, but for one script's (which a new result of it replaces). */
  storedBytes(runId: number, exceptName: string): number {
    const row = this.db.prepare<[number, string], { bytes: number | null }>(
      'SELECT sum(length(stdout) + length(stderr) + length(files)) AS bytes FROM script_results WHERE run_id = ? AND name != ?',
    ).get(runId, exceptName);
    return row?.bytes ?? 0;
  }

  finishRun(runId: number, status: Exclude<RunStatus, 'running'>): void {
    this.db.prepare(`UPDATE script_runs SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'`).run(status, this.now(), runId);
  }

  run(runId: number): ScriptRun | undefined {
    const row = this.db.prepare<[number], RunRow>('SELECT * FROM script_runs WHERE id = ?').get(runId);
    return row && this.withResults(row);
  }

  /** The machine's runs, newest first. */
  runs(machineId: string, limit = 20): ScriptRun[] {
    return this.db.prepare<[string, number], RunRow>('SELECT * FROM script_runs WHERE machine_id = ? ORDER BY id DESC LIMIT ?')
      .all(machineId, limit).map((row) => this.withResults(row));
  }

  private withResults(row: RunRow): ScriptRun {
    const results = this.db.prepare<[number], ResultRow>('SELECT * FROM script_results WHERE run_id = ? ORDER BY at, name').all(row.id).map(toResult);
    return {
      id: row.id, machineId: row.machine_id, phase: row.phase as ScriptKind, scripts: JSON.parse(row.scripts) as string[],
      status: row.status as RunStatus, startedAt: row.started_at, finishedAt: row.finished_at, results,
    };
  }
}
