import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from './batch-encoder.js';

/** What an {@link EpochIterator} reports back to the loader that made it. */
export interface EpochHost {
  /** Called when the consumer asks for the next batch, before anything is handed out; may throw to refuse. */
  beforeNext(iterator: EpochIterator): void;
  /** `delivered` batches of this epoch have now been handed to the consumer, the last one `batch`. */
  onDelivered(iterator: EpochIterator, delivered: number, batch: ImageBatch): void;
  /** The iterator was closed before the end of the epoch (break, error, or abandoned). */
  onClosed(iterator: EpochIterator): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

function disposeBatch(batch: ImageBatch): void {
  tf.dispose([batch.x, batch.y]);
}

/**
 * One epoch of batches, assembled up to `prefetch` batches ahead of the consumer (by default, with `prefetch > 0`,
 * each batch is handed out after one turn of the event loop, see `next`; `turnBeforeBatch` says when to take it).
 *
 * Batch `b` is built by `make(b)` (asynchronous: a file-backed dataset reads and decodes its rows off the JS thread);
 * with `prefetch > 0` each build is queued with `setImmediate`, so it runs while the consumer awaits (e.g. a `loss.data()` sync) and is
 * ready by the time the next batch is asked for. Closing the iterator (a `break` out of
 * `for await`, an error, or a newer epoch of the same loader) disposes every batch that
 * was built but not handed out.
 */
export class EpochIterator implements AsyncIterableIterator<ImageBatch> {
  private readonly queue: Promise<ImageBatch>[] = [];
  private scheduled: number;
  private delivered: number;
  private closed = false;

  constructor(
    private readonly host: EpochHost,
    private readonly total: number,
    start: number,
    private readonly prefetch: number,
    private readonly make: (batchIndex: number) => Promise<ImageBatch>,
    private readonly eager = false,
    private readonly turnBeforeBatch: () => boolean = () => prefetch > 0,
  ) {
    this.scheduled = start;
    this.delivered = start;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Hands out the next batch; the consumer owns it and disposes `x` and `y`. */
  async next(): Promise<IteratorResult<ImageBatch, undefined>> {
    try {
      this.host.beforeNext(this);
    } catch (error) {
      await this.close();
      throw error;
    }
    if (this.closed || this.delivered >= this.total) return DONE;
    if (this.turnBeforeBatch()) {
      // One turn of the event loop before each batch, for builds that wait on I/O (a file-backed dataset's decodes). A
      // training step blocks the thread, and a consumer whose batches are ready never yields to the loop (its awaits
      // resolve as microtasks: wasm's `data()`, a built batch), so the decodes that finished during the step would be
      // taken in only when a batch is late, several at once. Taking them in here hands each batch's rows to its build
      // (a worker) one step ahead, and starts the next reads.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed) return DONE;
    }
    this.fill(this.delivered + 1);
    const pending = this.queue.shift() as Promise<ImageBatch>;
    let batch: ImageBatch;
    try {
      batch = await pending;
    } catch (error) {
      await this.close();
      throw error;
    }
    if (this.closed) {
      disposeBatch(batch);
      return DONE;
    }
    this.delivered += 1;
    this.host.onDelivered(this, this.delivered, batch);
    this.fill(this.delivered + this.prefetch);
    return { done: false, value: batch };
  }

  /** Ends the epoch early (called by `break` in `for await`); disposes prefetched batches. */
  async return(): Promise<IteratorResult<ImageBatch, undefined>> {
    await this.close();
    return DONE;
  }

  /** Stops handing out batches and disposes every batch built but not handed out. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.delivered < this.total) this.host.onClosed(this);
    const pending = this.queue.splice(0);
    const results = await Promise.allSettled(pending);
    for (const result of results) if (result.status === 'fulfilled') disposeBatch(result.value);
  }

  private fill(upTo: number): void {
    const limit = Math.min(this.total, upTo);
    while (this.scheduled < limit) this.queue.push(this.schedule(this.scheduled++));
  }

  private schedule(batchIndex: number): Promise<ImageBatch> {
    const build = (): Promise<ImageBatch> => {
      if (this.closed) return Promise.reject(new Error('the epoch was closed before this batch was built'));
      return this.make(batchIndex);
    };
    // With prefetch, an in-thread build starts after the current turn, while the consumer awaits (e.g. a loss sync); an
    // eager one (built in a worker) is handed over at once, so the worker has it during the step, not after.
    const pending =
      this.prefetch === 0 || this.eager ? build() : new Promise<void>((resolve) => setImmediate(resolve)).then(build);
    // The rejection is reported when the batch is awaited; do not flag it as unhandled before.
    pending.catch(() => undefined);
    return pending;
  }
}
