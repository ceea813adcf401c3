// Group commit (ARCHITECTURE.md "A lease is written before the ACK that grants it leaves the socket"):
// the replies that grant leases wait, together, for one write of all their leases and then for the
// disk, then leave. Everything the server handles in one turn of the event loop (one poll of the
// sockets) goes in one batch, committed on setImmediate, so an idle server still answers at once.
// The disk flush runs off the event loop (the store's sync): while it does, the next turns' packets
// are decoded, answered and committed, and their flush starts when this one ends (wal-sync.ts), so
// under load each flush covers more ACKs instead of the loop waiting on every one.

export class ReplyBatch {
  private queue: Array<{ send: () => Promise<void>; done: (error?: unknown) => void }> = [];
  private scheduled = false;

  /**
   * `commit` writes every queued lease (throws if it cannot); `durable` resolves when what was
   * committed is on disk. Then the queued sends run.
   */
  constructor(private readonly commit: () => void, private readonly durable: () => Promise<void>) {}

  /** Resolves when the reply was sent; rejects (unsent) when the leases could not be written. */
  add(send: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ send, done: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  private run(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    try {
      this.commit();
    } catch (error) {
      for (const item of items) item.done(error);
      return;
    }
    this.durable().then(
      () => {
        for (const item of items) item.send().then(() => item.done(), item.done);
      },
      (error: unknown) => {
        for (const item of items) item.done(error);
      },
    );
  }
}
