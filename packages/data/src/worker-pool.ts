import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { TransformModule } from './transform-module.js';

/** What every worker of a pool starts with (its `workerData`). */
export interface BatchWorkerInit {
  /** The tfjs backend the worker computes the transform on. */
  backend: 'cpu' | 'wasm';
  /**
   * On wasm, whether the worker puts @convkit/native's stateless image kernels (`Transform`) on its backend when the
   * addon loads: true unless `CONVKIT_NATIVE=0`. oneDNN's kernels never run in workers.
   */
  nativeImageKernels?: boolean;
  /** `[height, width, channels]` of every image. */
  shape: readonly [number, number, number];
  /** The byte → float table of the loader's encoding (`pixelTable`). */
  table: Float32Array;
  /** The transform to build in the worker, if any. */
  transformModule?: TransformModule;
}

/** What a worker receives as `workerData`: its {@link BatchWorkerInit} and the port that jobs and replies travel on. */
export interface BatchWorkerData extends BatchWorkerInit {
  port: MessagePort;
}

/** One batch to build: its bytes (transferred), and what seeds its transform. */
export interface BatchJob {
  id: number;
  /** The rows' pixel bytes; empty when `files` are given instead. */
  bytes: Uint8Array;
  /** JPEG files the worker decodes itself (libjpeg-turbo, to the pool's shape), one per row, instead of `bytes`. */
  files?: readonly string[];
  transformSeed: number;
  batchIndex: number;
}

/** A worker's answer to a {@link BatchJob}: the batch, an error, or (`files` only) why it did not decode them. */
export type WorkerReply =
  | { id: number; x: Float32Array; shape: number[] }
  | { id: number; error: string }
  | { id: number; fallback: string };

/** A built batch's images: float32 values and their `[B, H, W, C]` shape. */
export interface BuiltImages {
  x: Float32Array;
  shape: [number, number, number, number];
}

/** A job of `files` the worker did not decode (a file libjpeg-turbo refuses, no addon): the caller reads the rows. */
export interface NotDecoded {
  fallback: string;
}

interface Pending {
  resolve: (images: BuiltImages | NotDecoded) => void;
  reject: (error: Error) => void;
  what: string;
}

interface Slot {
  worker: Worker;
  /** Jobs go out and replies come back on this port (not the worker's own), so {@link BatchWorkerPool.collect} can read them. */
  port: MessagePort;
  pending: Map<number, Pending>;
}

/** The worker's compiled entry: beside this file in `dist`; from the sources (tests), the built one. */
function workerEntry(): URL {
  const beside = new URL('./batch-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../dist/batch-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`the DataLoader's worker entry ${fileURLToPath(beside)} is missing: build @convkit/data (npm run build)`);
}

/** Names batch `batchIndex` of `epoch` (from 1) in errors, with its first rows (their files when the dataset has them). */
export function describeBatch(files: readonly string[] | undefined, indices: Int32Array, batchIndex: number, epoch: number): string {
  const rows = Array.from(indices.subarray(0, 4), (row) => files?.[row] ?? `row ${row}`).join(', ');
  return `batch ${batchIndex} of epoch ${epoch} (${rows}${indices.length > 4 ? ', …' : ''})`;
}

/**
 * A few worker threads that encode (and transform) batches off the training thread. Started on the first job after
 * creation or a {@link stop}; each job goes to the worker with the fewest in flight. A worker is referenced only while
 * it has jobs, so an idle pool never keeps the process alive. A worker that fails (an uncaught error, an exit) rejects
 * its jobs with an error naming the batch, and is replaced on the next job.
 */
export class BatchWorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private stops = 0;
  private init: BatchWorkerInit | undefined;

  /**
   * @param size - how many workers to run.
   * @param describe - what the workers start with, asked again at the first job after each stop (the backend may
   *   have changed).
   */
  constructor(
    private readonly size: number,
    private readonly describe: () => BatchWorkerInit,
  ) {}

  /** How many worker threads are alive. */
  get alive(): number {
    return this.slots.length;
  }

  /** Counts the stops: a job prepared before a stop (its `generation` older) is refused instead of starting workers. */
  get generation(): number {
    return this.stops;
  }

  /**
   * Builds one batch in a worker. `bytes` is transferred (unusable afterwards) when it spans its whole buffer.
   * `what` names the batch in errors (see {@link describeBatch}); `generation` is the pool's when the job was prepared.
   */
  run(bytes: Uint8Array, transformSeed: number, batchIndex: number, what: string, generation: number): Promise<BuiltImages> {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const job: Omit<BatchJob, 'id'> = { bytes: whole ? bytes : bytes.slice(), transformSeed, batchIndex };
    return this.send(job, what, generation) as Promise<BuiltImages>;
  }

  /**
   * Builds one batch in a worker from JPEG `files` that the worker decodes itself, so that neither the reads nor the
   * decodes wait on this thread (a training step blocks it). Resolves with {@link NotDecoded} when the worker did not
   * decode them all: the caller then reads the rows as usual (which names a bad file or skips it).
   */
  runFiles(files: readonly string[], transformSeed: number, batchIndex: number, what: string, generation: number): Promise<BuiltImages | NotDecoded> {
    return this.send({ bytes: new Uint8Array(0), files, transformSeed, batchIndex }, what, generation);
  }

  private send(job: Omit<BatchJob, 'id'>, what: string, generation: number): Promise<BuiltImages | NotDecoded> {
    if (generation !== this.stops) return Promise.reject(new Error(`${what} was not built: the loader's workers were stopped`));
    this.init ??= this.describe();
    while (this.slots.length < this.size) this.slots.push(this.spawn(this.init));
    const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const id = this.nextId++;
    const message: BatchJob = { ...job, id };
    return new Promise<BuiltImages | NotDecoded>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, what });
      if (slot.pending.size === 1) this.hold(slot, true);
      slot.port.postMessage(message, message.bytes.byteLength > 0 ? [message.bytes.buffer as ArrayBuffer] : []);
    });
  }

  /**
   * Takes in the replies that already arrived, now, without waiting for the event loop: the training thread's step
   * does not yield to it (tfjs kernels are synchronous, and a loss read on wasm resolves in a microtask), so a batch
   * finished during the step would otherwise be seen only after a turn of the loop, counted as waiting.
   */
  collect(): void {
    for (const slot of [...this.slots]) {
      for (let reply = receiveMessageOnPort(slot.port); reply !== undefined; reply = receiveMessageOnPort(slot.port)) {
        this.settle(slot, reply.message as WorkerReply);
      }
    }
  }

  /** Stops every worker; jobs in flight, and jobs prepared before, reject. A later job starts new workers. */
  async stop(): Promise<void> {
    this.stops += 1;
    this.init = undefined;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.fail(slot, (what) => new Error(`${what} was not built: the loader's workers were stopped`));
    for (const slot of slots) slot.port.close();
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private spawn(init: BatchWorkerInit): Slot {
    // A worker inherits the process's flags, but refuses `--input-type` (`node --input-type=module -e …`) for its file
    // entry: then it gets none (an explicit list that kept process-wide flags such as --expose-gc would be refused).
    const inputType = process.execArgv.some((flag) => flag.startsWith('--input-type'));
    const { port1, port2 } = new MessageChannel();
    const workerData = { ...init, port: port2 };
    const worker = new Worker(workerEntry(), { workerData, transferList: [port2], ...(inputType ? { execArgv: [] } : {}) });
    const slot: Slot = { worker, port: port1, pending: new Map() };
    port1.on('message', (reply: WorkerReply) => this.settle(slot, reply));
    this.hold(slot, false);
    worker.on('error', (error) => this.drop(slot, (what) => new Error(`${what} failed: the loader's worker crashed (${error.message})`, { cause: error })));
    worker.on('exit', (code) => this.drop(slot, (what) => new Error(`${what} was not built: the loader's worker exited with code ${code}`)));
    return slot;
  }

  /** Keeps the process alive while `slot` has jobs in flight, and only then. */
  private hold(slot: Slot, busy: boolean): void {
    if (busy) {
      slot.worker.ref();
      slot.port.ref();
    } else {
      slot.worker.unref();
      slot.port.unref();
    }
  }

  private settle(slot: Slot, reply: WorkerReply): void {
    const pending = slot.pending.get(reply.id);
    if (pending === undefined) return;
    slot.pending.delete(reply.id);
    if (slot.pending.size === 0) this.hold(slot, false);
    if ('error' in reply) pending.reject(new Error(`${pending.what} failed in the loader's worker: ${reply.error}`));
    else if ('fallback' in reply) pending.resolve({ fallback: reply.fallback });
    else pending.resolve({ x: reply.x, shape: reply.shape as BuiltImages['shape'] });
  }

  /** Removes a failed worker from the pool and rejects its jobs. */
  private drop(slot: Slot, error: (what: string) => Error): void {
    const at = this.slots.indexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
    this.fail(slot, error);
  }

  private fail(slot: Slot, error: (what: string) => Error): void {
    this.hold(slot, false);
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const job of pending) job.reject(error(job.what));
  }
}
