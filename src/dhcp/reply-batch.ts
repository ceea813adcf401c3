// Group commit (ARCHITECTURE.md "A lease is written before the ACK that grants it leaves the socket"):
// the replies that grant leases wait, together, for one durable write of all their leases, then
// leave. Everything the server handles in one turn of the event loop (one poll of the sockets) goes
// in one batch, so under load a single fsync covers many ACKs, and an idle server still answers at
// once (the batch is flushed in the same loop iteration, on setImmediate).

export class ReplyBatch {
  private queue: Array<{ send: () => Promise<void>; done: (error?: unknown) => void }> = [];
  private scheduled = false;

  /** `flush` makes every queued lease durable (throws if it cannot); then the queued sends run. */
  constructor(private readonly flush: () => void) {}

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
      this.flush();
    } catch (error) {
      for (const item of items) item.done(error);
      return;
    }
    for (const item of items) item.send().then(() => item.done(), item.done);
  }
}
