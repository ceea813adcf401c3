// A bounded in-memory cache of whole files, one per transfer worker. During a rack boot many machines
// fetch the same loader, kernel and initrd at once; serving them from memory saves a thread-pool read
// per 64 KiB per transfer. Entries are keyed by file identity (dev:ino) and checked against its
// version (size, mtime, ctime): a rewritten or replaced file is read again, never served stale.
import type { Buffer } from 'node:buffer';
import type { FileIdentity } from './files.js';

interface Entry {
  readonly version: string;
  readonly size: number;
  readonly bytes: Promise<Buffer>;
}

export interface FileCacheStats {
  readonly entries: number;
  /** Octets held (or being loaded). */
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

export class FileCache {
  /** Least recently used first (a Map keeps insertion order; a hit re-inserts). */
  private readonly entries = new Map<string, Entry>();
  private held = 0;
  private hits = 0;
  private misses = 0;

  constructor(private readonly maxBytes: number) {}

  get stats(): FileCacheStats {
    return { entries: this.entries.size, bytes: this.held, hits: this.hits, misses: this.misses };
  }

  /**
   * The file's bytes, loaded once with `load` and shared by every transfer of the same version.
   * Null when the file does not fit the cache: the caller reads it from disk. A failed load is
   * forgotten, so the next transfer tries again.
   */
  get(file: FileIdentity, size: number, load: () => Promise<Buffer>): Promise<Buffer> | null {
    if (size > this.maxBytes) return null;
    const found = this.entries.get(file.key);
    if (found?.version === file.version) {
      this.hits += 1;
      this.entries.delete(file.key);
      this.entries.set(file.key, found);
      return found.bytes;
    }
    if (found) this.remove(file.key, found); // the file changed: its old bytes are no use any more
    this.misses += 1;
    this.evictFor(size);
    const entry: Entry = { version: file.version, size, bytes: load() };
    this.entries.set(file.key, entry);
    this.held += size;
    entry.bytes.catch(() => {
      if (this.entries.get(file.key) === entry) this.remove(file.key, entry);
    });
    return entry.bytes;
  }

  private evictFor(size: number): void {
    for (const [key, entry] of this.entries) {
      if (this.held + size <= this.maxBytes) return;
      this.remove(key, entry); // transfers still sending from it keep their reference
    }
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.size;
  }
}
