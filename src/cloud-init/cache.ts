// Rendered documents per machine, state and run (node-cache). A key carries the machine's updatedAt,
// which every change of the machine (state, token, user-data, inventory) moves, so a changed machine
// never hits an old entry; invalidate() drops a machine's entries at once to free the memory.
import NodeCache from 'node-cache';
import type { Machine } from '../machines/model.js';

export class RenderCache {
  private readonly cache = new NodeCache({ stdTTL: 600, checkperiod: 120, useClones: false });
  private hitCount = 0;
  private missCount = 0;

  /** The cached text of `document` for this version of the machine, rendered once on a miss. */
  get(machine: Machine, document: string, render: () => string): string {
    const key = `${machine.id}\0${machine.state}\0${machine.updatedAt}\0${machine.token ?? ''}\0${document}`;
    const hit = this.cache.get<string>(key);
    if (hit !== undefined) {
      this.hitCount++;
      return hit;
    }
    this.missCount++;
    const text = render();
    this.cache.set(key, text);
    return text;
  }

  invalidate(machineId: string): void {
    this.cache.del(this.cache.keys().filter((k) => k.startsWith(`${machineId}\0`)));
  }

  stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.hitCount, misses: this.missCount, entries: this.cache.keys().length };
  }

  close(): void {
    this.cache.close(); // its check-period timer would keep the process alive
  }
}
