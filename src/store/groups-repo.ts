// Zones, resource pools and tags (manual, or automatic with a definition over the inventory).
import type { Db } from './db.js';

export interface Group { readonly name: string; readonly description: string }
export interface Tag { readonly name: string; readonly definition: string; readonly comment: string }

export class SqliteGroupStore {
  constructor(private readonly db: Db) {}

  list(kind: 'zones' | 'pools'): Group[] {
    return this.db.prepare<[], Group>(`SELECT name, description FROM ${kind} ORDER BY name`).all();
  }

  exists(kind: 'zones' | 'pools', name: string): boolean {
    return this.db.prepare(`SELECT 1 FROM ${kind} WHERE name = ?`).get(name) !== undefined;
  }

  put(kind: 'zones' | 'pools', group: Group): void {
    this.db.prepare(`INSERT INTO ${kind} (name, description) VALUES (@name, @description)
      ON CONFLICT(name) DO UPDATE SET description = excluded.description`).run(group);
  }

  /** Machines in the group, so the caller can refuse to delete a group in use. */
  members(kind: 'zones' | 'pools', name: string): number {
    const column = kind === 'zones' ? 'zone' : 'pool';
    return (this.db.prepare(`SELECT count(*) AS n FROM machines WHERE ${column} = ?`).get(name) as { n: number }).n;
  }

  delete(kind: 'zones' | 'pools', name: string): boolean {
    return this.db.prepare(`DELETE FROM ${kind} WHERE name = ?`).run(name).changes > 0;
  }

  tags(): Tag[] {
    return this.db.prepare<[], Tag>('SELECT name, definition, comment FROM tags ORDER BY name').all();
  }

  tag(name: string): Tag | undefined {
    return this.db.prepare<[string], Tag>('SELECT name, definition, comment FROM tags WHERE name = ?').get(name);
  }

  putTag(tag: Tag): void {
    this.db.prepare(`INSERT INTO tags (name, definition, comment) VALUES (@name, @definition, @comment)
      ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, comment = excluded.comment`).run(tag);
  }

  deleteTag(name: string): boolean {
    return this.db.prepare('DELETE FROM tags WHERE name = ?').run(name).changes > 0;
  }

  tagMachine(machineId: string, tag: string): void {
    this.db.prepare('INSERT OR IGNORE INTO machine_tags (machine_id, tag) VALUES (?, ?)').run(machineId, tag);
  }

  untagMachine(machineId: string, tag: string): void {
    this.db.prepare('DELETE FROM machine_tags WHERE machine_id = ? AND tag = ?').run(machineId, tag);
  }

  /** Sets exactly which machines carry an automatic tag. */
  setTagMembers(tag: string, machineIds: readonly string[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM machine_tags WHERE tag = ?').run(tag);
      const insert = this.db.prepare('INSERT INTO machine_tags (machine_id, tag) VALUES (?, ?)');
      for (const id of machineIds) insert.run(id, tag);
    })();
  }
}
