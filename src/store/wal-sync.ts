// Durability for commits made with synchronous=NORMAL, off the event loop.
//
// In WAL mode a commit appends frames to `<db>-wal`; synchronous=FULL then fsyncs that file inside the
// commit, blocking the thread for the whole flush (0.1-0.5 ms on this class of machine, most of it CPU
// in the virtual disk's flush). With synchronous=NORMAL the commit only write()s the frames: they
// survive a crash of the process (they are in the kernel's page cache) but not a power loss
// (https://www.sqlite.org/pragma.html#pragma_synchronous). fdatasync(2) of the WAL closes that gap:
// once it returns, every frame written before it started is on disk, exactly what FULL would have
// ensured. Node runs it on the libuv thread pool, so the event loop keeps answering while the disk
// flushes, and the commits made meanwhile share the next flush (group commit).
//
// The WAL file keeps its inode while any connection is open (SQLite deletes it only when the last
// connection closes, and resets it in place after a checkpoint), so one descriptor serves the
// process's life. fsync of a read-only descriptor is allowed on Linux.
import { open, type FileHandle } from 'node:fs/promises';

export class WalSync {
  private handle: Promise<FileHandle> | null = null;
  /** The flush in progress. */
  private running: Promise<void> | null = null;
  /** The flush that starts when `running` ends, shared by everyone who asks meanwhile. */
  private queued: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.walPath}: the store is closed`));
    // A flush already running may have started before the caller's commit: it cannot count.
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const next = (): Promise<void> => {
      this.queued = null;
      return this.start();
    };
    this.queued = this.running.then(next, next);
    return this.queued;
  }

  /** Waits for flushes in progress, then releases the descriptor. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.queued, this.running]);
    const handle = this.handle;
    this.handle = null;
    if (handle) await handle.then((h) => h.close(), () => undefined);
  }

  private start(): Promise<void> {
    const flush = this.flush().finally(() => {
      if (this.running === flush) this.running = null;
    });
    this.running = flush;
    return flush;
  }

  private async flush(): Promise<void> {
    this.handle ??= open(this.walPath, 'r');
    let handle: FileHandle;
    try {
      handle = await this.handle;
    } catch (error) {
      this.handle = null; // retried at the next sync (the WAL appears with the first commit)
      throw error;
    }
    await handle.datasync();
  }
}
