import { createRng } from '@convkit/core';
import * as tf from '@tensorflow/tfjs';
import type { Rng, RngState } from '@convkit/core';
import { applyBatchTransform } from './batch-transform.js';
import type { BatchTransform } from './batch-transform.js';
import { createLabelEncoder, createRowEncoder, markTransformedAhead, pixelTable } from './batch-encoder.js';
import type { BatchEncodingOptions, ImageBatch, LabelEncoder, RowEncoder } from './batch-encoder.js';
import { isInMemory } from './dataset.js';
import type { Dataset } from './dataset.js';
import { EpochIterator } from './epoch-iterator.js';
import type { EpochHost } from './epoch-iterator.js';
import { epochBatches, flatLength, samplerLength } from './index-sampler.js';
import type { IndexSampler } from './index-sampler.js';
import { loadTransformModule, transformModuleUrl } from './transform-module.js';
import type { TransformModule } from './transform-module.js';
import { BatchWorkerPool, describeBatch } from './worker-pool.js';
import type { BuiltImages, NotDecoded } from './worker-pool.js';
import { workerDecodableFiles } from './stream-image-folder.js';

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions extends BatchEncodingOptions {
  /** Images per batch, a positive integer. */
  batchSize: number;
  /**
   * Whether each epoch visits the images in a fresh random order. Defaults to `true`; must be
   * left unset with a `sampler`, which chooses the order instead.
   */
  shuffle?: boolean;
  /**
   * Chooses each epoch's rows (e.g. class-balanced batches from `@convkit/sampling`) from the
   * loader's seeded generator, in place of the shuffle. Defaults to none: every image once per
   * epoch, shuffled or in dataset order.
   */
  sampler?: IndexSampler;
  /** Seed of the orders and of the transform's generators. Defaults to `0`. */
  seed?: number;
  /** Whether to drop the last, smaller batch of an epoch. Defaults to `false`. */
  dropLast?: boolean;
  /** How many batches to build ahead of the one the consumer holds. Defaults to `2`; `0` builds on demand. */
  prefetch?: number;
  /** A transform applied to every batch's images, e.g. augmentation. Defaults to none. */
  transform?: BatchTransform;
  /**
   * Whether the `transform` waits until the batch is trained on instead of running when the batch is built (ahead, with
   * `prefetch`). Defaults to `false`. With `true` every batch comes with {@link ImageBatch.applyTransform}, which a
   * learner plugin calls in `beforeBatch` after the schedulers (`augmentStrength` and `progressiveAugmentation` of
   * `@convkit/augment` do), so a scheduled strength is the one in force at the batch's step. Asking for the next batch
   * while the previous one's transform was not applied throws. The transform draws from the same per-batch generator
   * either way, so the batches are bit-identical to the undeferred ones at equal strength. With `false` (and a
   * `transform`) each batch is marked as transformed ahead (see {@link ImageBatch}), and `augmentStrength` refuses it
   * with an error rather than let a scheduled strength land up to `prefetch + 1` steps late.
   */
  deferTransform?: boolean;
  /**
   * The transform as a module that each worker imports (a function cannot be sent to a thread): see
   * {@link TransformModule}. Takes the place of `transform`; with `workers: 0` the loader imports it itself and runs it
   * in the training thread, with the same values. Not with `deferTransform` (the plugins that schedule a strength
   * cannot reach a transform built inside a worker). Defaults to none.
   */
  transformModule?: TransformModule;
  /**
   * How many worker threads build the batches: each turns a batch's bytes into normalised floats and runs the
   * `transformModule` on its own tfjs backend (wasm on one thread, or cpu when the training thread runs on cpu), so the
   * training thread only reads the rows (decoding happens on sharp's threads) and wraps the result in a tensor. The
   * batches are the same whatever the number of workers and the timing: each depends only on its rows and its own
   * generator. Idle workers do not keep the process alive; an epoch that ends early (a `break`, an error, a stopped
   * fit) stops them, and {@link DataLoader.close} does. Defaults to `1` with a `transformModule` (one worker beside the
   * trainer), else `0`: everything in the training thread, as before.
   */
  workers?: number;
}

/**
 * Where a {@link DataLoader} stands: enough to resume it mid-epoch. JSON-serialisable.
 */
export interface DataLoaderState {
  /** The epoch in progress, or the next one when none is (counting from 0). */
  epoch: number;
  /** How many batches of that epoch were already handed out. */
  position: number;
  /** The loader's generator at the start of that epoch. */
  rng: RngState;
  /** The sampler's state (its `getState()`) at the start of that epoch, for samplers that have one. */
  sampler?: unknown;
}

function checkInteger(name: string, value: unknown, minimum: number, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new Error(`${name} must be ${what} (received ${String(value)})`);
  }
}

/**
 * Delivers a {@link Dataset} (in memory, or streamed from files by {@link streamImageFolder}) as shuffled, normalised,
 * prefetched batches of tensors; both kinds give bit-identical batches for the same seed.
 *
 * Why: training wants float batches in a fresh random order every epoch, built without
 * stalling the step and reproducible from a seed, including after a restart from a
 * checkpoint. Each `for await` over the loader is one epoch; epoch `k` has the same order in
 * every run with the same `seed`. Pixels become `x = (byte × scale − mean[c]) / std[c]`.
 * The loader is a `BatchSource` for `@convkit/learner` (it has `length` and
 * `[Symbol.asyncIterator]`).
 *
 * Options: `batchSize` (required); `shuffle` (defaults to `true`); `seed` (defaults to `0`);
 * `dropLast` (defaults to `false`); `prefetch` (defaults to `2`); `labels` (`'oneHot'`
 * float32 `[B, numClasses]`, the default, or `'index'` int32 `[B]`); `scale` (defaults to
 * `1/255`); `mean`, `std` (per channel, default none); `transform` (default none);
 * `sampler` (default none): an {@link IndexSampler} that chooses each epoch's rows (a flat
 * order cut into batches, or ready-made batches) from the loader's seeded generator instead of
 * the shuffle; `length` is then the sampler's `length(batchSize, dropLast)`, and
 * {@link DataLoader.getState} also saves the sampler's state at the start of the epoch;
 * `deferTransform` (default `false`): the transform waits for the plugin that runs it at the batch's
 * own step (see {@link DataLoaderOptions.deferTransform}); give it `true` whenever a plugin schedules the
 * transform's strength per step (`augmentStrength`, which refuses batches transformed ahead);
 * `transformModule` (default none) and `workers` (defaults to `1` with a `transformModule`, else `0`): the
 * normalisation and the transform run in worker threads, so the training step does not wait for them (with `prefetch`,
 * a batch is handed to a worker as soon as a slot frees, and built during the step); the batches are bit-identical
 * to those built in the training thread.
 *
 * Memory: the consumer owns every batch it receives and disposes `x` and `y`. Batches built
 * ahead but never handed out are disposed by the loader when the epoch ends early (`break`,
 * an error, or starting another epoch).
 *
 * @example
 * ```ts
 * const train = await loadFashionMnist({ split: 'train' });
 * const loader = new DataLoader(train, { batchSize: 64, seed: 1 });
 * for await (const { x, y } of loader) {
 *   // x: float32 [64, 28, 28, 1] in [0, 1]; y: float32 [64, 10] one-hot
 *   tf.dispose([x, y]);
 * }
 * ```
 */
export class DataLoader implements AsyncIterable<ImageBatch> {
  /** The dataset being served: in memory or file-backed (see {@link Dataset}). */
  readonly dataset: Dataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Batches per (full) epoch. */
  readonly length: number;
  /** The sampler choosing each epoch's rows, or `undefined` for the loader's own shuffle. */
  readonly sampler: IndexSampler | undefined;
  private readonly dropLast: boolean;
  private readonly shuffle: boolean;
  private readonly prefetch: number;
  /** The dataset's `readRows` calls not yet settled (file reads and decodes on other threads). */
  private readsInFlight = 0;
  private transform: BatchTransform | undefined;
  private readonly encode: RowEncoder;
  private readonly encodeLabels: LabelEncoder;
  private readonly transformModule: TransformModule | undefined;
  private readonly workers: number;
  private readonly pool: BatchWorkerPool;
  private loadingTransform: Promise<BatchTransform> | undefined;
  private readonly deferTransform: boolean;
  /** The last batch handed out with a deferred transform, until the transform runs. */
  private unapplied: { batch: ImageBatch; index: number } | undefined;
  private readonly encoding: BatchEncodingOptions;
  private readonly rng: Rng;
  private epochIndex = 0;
  private position = 0;
  private epochStart: RngState;
  private active: EpochIterator | undefined;
  private afterEpochDraws: RngState | undefined;
  private samplerStart: unknown;
  private resumedSampler: unknown;

  /**
   * @throws if `batchSize` is not a positive integer, `prefetch` not a non-negative integer,
   *   `seed` not an integer, the dataset empty (or, with `dropLast`, smaller than one batch),
   *   `mean`/`std` do not have one entry per channel, `sampler` is not an {@link IndexSampler}
   *   (or given with `shuffle`), or the sampler's `length` throws or is not a positive integer.
   */
  constructor(dataset: Dataset, options: DataLoaderOptions) {
    const { batchSize, shuffle = true, seed = 0, dropLast = false, prefetch = 2, transform, sampler, deferTransform = false } = options;
    if (typeof dataset?.readRows !== 'function' || !(dataset.labels instanceof Int32Array)) {
      throw new Error(`dataset must be a Dataset of @convkit/data, with labels and readRows (received ${String(dataset)})`);
    }
    if (typeof deferTransform !== 'boolean') {
      throw new Error(`deferTransform must be a boolean (received ${String(deferTransform)})`);
    }
    checkInteger('batchSize', batchSize, 1, 'a positive integer');
    checkInteger('prefetch', prefetch, 0, 'a non-negative integer');
    checkInteger('seed', seed, Number.MIN_SAFE_INTEGER, 'an integer');
    if (transform !== undefined && typeof transform !== 'function') {
      throw new Error(`transform must be a function (x, rng) => x (received ${typeof transform})`);
    }
    const { transformModule } = options;
    // Resolved (and checked) once, here; the workers import this URL.
    const moduleUrl = transformModule === undefined ? undefined : transformModuleUrl(transformModule);
    if (transformModule !== undefined) {
      if (transform !== undefined) throw new Error('transform and transformModule must not both be given (pass one of them)');
      if (deferTransform) {
        throw new Error(
          'deferTransform must be false with a transformModule: the plugins that schedule its strength cannot reach a ' +
            'transform built inside the workers (pass transform instead)',
        );
      }
    }
    const workers = options.workers ?? (transformModule === undefined ? 0 : 1);
    checkInteger('workers', workers, 0, 'a non-negative integer');
    if (dataset.length === 0) {
      throw new Error(`dataset must not be empty (received a dataset of 0 images from ${dataset.source})`);
    }
    const length = sampler === undefined ? flatLength(dataset.length, batchSize, dropLast) : samplerLength(sampler, options);
    if (length === 0) {
      throw new Error(
        `batchSize must be at most the dataset size ${dataset.length} when dropLast is true (received ${batchSize})`,
      );
    }
    this.encoding = { labels: options.labels ?? 'oneHot', scale: options.scale ?? 1 / 255 };
    if (options.mean !== undefined) this.encoding.mean = options.mean;
    if (options.std !== undefined) this.encoding.std = options.std;
    this.encode = createRowEncoder(dataset, this.encoding);
    this.encodeLabels = createLabelEncoder(dataset, this.encoding.labels);
    this.transformModule = transformModule;
    this.workers = workers;
    // No thread starts here: the first batch built in a worker starts them.
    this.pool = new BatchWorkerPool(workers, () => ({
      backend: tf.getBackend() === 'cpu' ? 'cpu' : 'wasm',
      nativeImageKernels: process.env['CONVKIT_NATIVE'] !== '0',
      shape: dataset.shape,
      table: pixelTable(dataset.shape[2], this.encoding),
      ...(transformModule === undefined || moduleUrl === undefined ? {} : { transformModule: { ...transformModule, url: moduleUrl } }),
    }));
    this.deferTransform = deferTransform && transform !== undefined;
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.length = length;
    this.sampler = sampler;
    this.dropLast = dropLast;
    this.shuffle = shuffle;
    this.prefetch = prefetch;
    this.transform = transform;
    this.rng = createRng(seed);
    this.epochStart = this.rng.getState();
  }

  /** The epoch in progress, or the next one to run (counting from 0). */
  get epoch(): number {
    return this.epochIndex;
  }

  /** How many worker threads are alive now: up to `workers` while epochs run, `0` after an early end or {@link close}. */
  get activeWorkers(): number {
    return this.pool.alive;
  }

  /**
   * Ends the open epoch (disposing the batches built ahead) and stops the worker threads. The loader stays usable: a
   * later epoch starts new workers. Idle workers never keep the process alive, so calling it is optional; it frees
   * their memory (each holds its own tfjs backend).
   */
  async close(): Promise<void> {
    const active = this.active;
    await active?.close();
    await this.pool.stop();
  }

  /**
   * Starts an epoch: the next one, or the rest of an interrupted one after {@link setState}.
   * Starting an epoch while another is still open closes the older one first.
   *
   * @returns an iterator of batches; the consumer disposes each batch's `x` and `y`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ImageBatch> {
    void this.active?.close();
    this.rng.setState(this.epochStart);
    const batches = this.drawEpoch();
    const transformSeed = this.rng.int(0, 0x7fffffff);
    this.afterEpochDraws = this.rng.getState();
    // A file-backed dataset's rows are read one batch further ahead than batches are built: the read of batch b + 1
    // starts when batch b's build does. Decoding a batch's files takes about as long as a training step on 2 cores,
    // and its result can be handed on (to a worker) only when the step ends; reading a step earlier leaves the build
    // a whole step. The rows are the same; only when they are read changes (and so no transform runs earlier).
    const readAhead = new Map<number, Promise<Uint8Array>>();
    const filesForWorkers = this.workers > 0 ? workerDecodableFiles(this.dataset) : undefined;
    const readRows = (batchIndex: number): Promise<Uint8Array> | undefined => {
      const { dataset } = this;
      // Workers that decode the files themselves need no rows from here.
      if (this.prefetch === 0 || isInMemory(dataset) || filesForWorkers !== undefined || batchIndex >= batches.length) return undefined;
      let rows = readAhead.get(batchIndex);
      if (rows === undefined) {
        rows = this.readDatasetRows(batches[batchIndex] as Int32Array);
        rows.catch(() => undefined); // reported when the batch is built; an epoch closed before never builds it
        readAhead.set(batchIndex, rows);
      }
      return rows;
    };
    const make = (batchIndex: number): Promise<ImageBatch> => {
      const indices = batches[batchIndex] as Int32Array;
      const rows = readRows(batchIndex);
      readAhead.delete(batchIndex);
      readRows(batchIndex + 1);
      const files = filesForWorkers === undefined ? undefined : Array.from(indices, (row) => filesForWorkers[row] as string);
      return this.makeBatch(indices, transformSeed, batchIndex, rows, files);
    };
    this.unapplied = undefined;
    const host: EpochHost = {
      beforeNext: (iterator) => {
        this.pool.collect();
        if (iterator !== this.active || this.unapplied === undefined) return;
        if (this.unapplied.batch.applyTransform === undefined) {
          this.unapplied = undefined;
          return;
        }
        throw new Error(
          `batch ${this.unapplied.index} of epoch ${this.epochIndex + 1} was handed out with deferTransform: true but its ` +
            'transform never ran: call batch.applyTransform() before training on it (augmentStrength or ' +
            'progressiveAugmentation of @convkit/augment do it in beforeBatch), or leave deferTransform unset',
        );
      },
      onDelivered: (iterator, delivered, batch) => {
        if (iterator !== this.active) return;
        if (batch.applyTransform !== undefined) this.unapplied = { batch, index: delivered - 1 };
        this.position = delivered;
        if (delivered >= this.length) this.finishEpoch();
      },
      onClosed: (iterator) => {
        if (iterator === this.active) this.finishEpoch();
        // An epoch left early (a break, an error, a stopped fit): no worker outlives it.
        void this.pool.stop();
      },
    };
    // The turn of the event loop before each batch serves builds that wait on file reads and decodes here: only while
    // some are in flight (an in-memory dataset, a cache read at once, or files the workers decode need none; worker
    // replies are collected without it).
    const iterator = new EpochIterator(host, this.length, this.position, this.prefetch, make, this.workers > 0, () => this.readsInFlight > 0);
    this.active = iterator;
    return iterator;
  }

  /**
   * Returns where the loader stands, to resume it later with {@link setState}, e.g. from a
   * checkpoint. Taken after `k` batches of an epoch, it resumes with batch `k + 1`.
   */
  getState(): DataLoaderState {
    const state: DataLoaderState = { epoch: this.epochIndex, position: this.position, rng: structuredClone(this.epochStart) };
    let sampler: unknown;
    if (this.resumedSampler !== undefined) sampler = this.resumedSampler;
    else if (this.active !== undefined) sampler = this.samplerStart;
    else sampler = this.sampler?.getState?.();
    if (sampler !== undefined) state.sampler = structuredClone(sampler);
    return state;
  }

  /**
   * Restores a state from {@link getState} (of a loader with the same dataset and options).
   * The next epoch started yields the rest of the saved epoch; later epochs follow as in
   * the original run. Closes any open epoch of this loader. A saved `sampler` state is given
   * to the sampler's `setState` now, and again when the resumed epoch starts, so settings
   * changed in between (e.g. by a scheduler) do not alter the rest of that epoch.
   *
   * @throws if `epoch` or `position` are out of range, `rng` is not a generator state, or
   *   `sampler` is given for a loader whose sampler has no `setState` (or the sampler rejects it).
   */
  setState(state: DataLoaderState): void {
    checkInteger('state.epoch', state?.epoch, 0, 'a non-negative integer');
    if (!Number.isInteger(state.position) || state.position < 0 || state.position >= this.length) {
      throw new Error(`state.position must be an integer in [0, ${this.length}) (received ${state.position})`);
    }
    const setSamplerState = this.sampler?.setState?.bind(this.sampler);
    if (state.sampler !== undefined && setSamplerState === undefined) {
      throw new Error(
        `state.sampler must be undefined for a loader whose sampler has no setState (received ${JSON.stringify(state.sampler)})`,
      );
    }
    void this.active?.close();
    this.active = undefined;
    try {
      this.rng.setState(structuredClone(state.rng));
    } catch (error) {
      this.rng.setState(this.epochStart);
      throw new Error(`state.rng must be a generator state from getState() (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (state.sampler !== undefined) {
      try {
        setSamplerState?.(structuredClone(state.sampler));
      } catch (error) {
        this.rng.setState(this.epochStart);
        throw error;
      }
    }
    this.resumedSampler = structuredClone(state.sampler);
    this.epochIndex = state.epoch;
    this.position = state.position;
    this.epochStart = structuredClone(state.rng);
  }

  /**
   * The whole dataset as one `{ x, y }` pair, in dataset order, encoded with this loader's
   * `labels`, `scale`, `mean` and `std` (no transform): for evaluation of small sets.
   *
   * @returns new tensors; the caller disposes both.
   */
  toTensors(): ImageBatch {
    const { dataset } = this;
    if (!isInMemory(dataset)) {
      throw new Error(
        `toTensors needs an in-memory dataset (received a file-backed one from ${dataset.source}): iterate the loader ` +
          'with for await instead',
      );
    }
    const rows = Int32Array.from({ length: dataset.length }, (_, i) => i);
    return this.encode(dataset.images, rows, rows);
  }

  /** Draws the epoch's rows from the generator (restored to the epoch's start): one array per batch. */
  private drawEpoch(): Int32Array[] {
    const count = this.dataset.length;
    const sampler = this.sampler;
    if (sampler === undefined) {
      const order = this.shuffle ? this.rng.permutation(count) : Int32Array.from({ length: count }, (_, i) => i);
      return Array.from({ length: this.length }, (_, b) =>
        order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, count)),
      );
    }
    if (this.resumedSampler !== undefined) sampler.setState?.(structuredClone(this.resumedSampler));
    this.resumedSampler = undefined;
    this.samplerStart = sampler.getState?.();
    const shape = { batchSize: this.batchSize, dropLast: this.dropLast, length: this.length, datasetSize: count };
    return epochBatches(sampler.epochIndices(this.epochIndex, this.rng), shape);
  }

  private finishEpoch(): void {
    this.epochIndex += 1;
    this.position = 0;
    this.epochStart = this.afterEpochDraws ?? this.rng.getState();
    this.active = undefined;
  }

  /**
   * Builds batch `batchIndex` in a worker: the rows' bytes (or, with `files`, the JPEG files the worker decodes itself)
   * go there, normalised (and transformed) floats come back.
   */
  private async makeBatchInWorker(indices: Int32Array, transformSeed: number, batchIndex: number, rows?: Promise<Uint8Array>, files?: readonly string[]): Promise<ImageBatch> {
    const { dataset, pool } = this;
    const generation = pool.generation;
    const what = describeBatch((dataset as { files?: readonly string[] }).files, indices, batchIndex, this.epochIndex + 1);
    // A streaming folder of JPEGs: the worker reads and decodes the files itself, so neither waits for this thread's
    // turns between training steps; a file it does not decode sends the batch back to the dataset's readRows.
    let built: BuiltImages | NotDecoded | undefined;
    if (files !== undefined) built = await pool.runFiles(files, transformSeed, batchIndex, what, generation);
    if (built === undefined || 'fallback' in built) {
      built = await pool.run(await (rows ?? this.readDatasetRows(indices)), transformSeed, batchIndex, what, generation);
    }
    const batch = { x: tf.tensor4d(built.x, built.shape, 'float32'), y: this.encodeLabels(indices) };
    return this.transformModule === undefined ? this.finishBatch(batch, transformSeed, batchIndex) : markTransformedAhead(batch, this.prefetch);
  }

  /** The dataset's `readRows(indices)`, counted in {@link readsInFlight} until it settles. */
  private readDatasetRows(indices: Int32Array): Promise<Uint8Array> {
    this.readsInFlight += 1;
    const rows = this.dataset.readRows(indices);
    const settled = (): void => {
      this.readsInFlight -= 1;
    };
    rows.then(settled, settled);
    return rows;
  }

  /**
   * Builds batch `batchIndex` from `indices`; `rows`, when given, are the dataset's rows for them, read ahead, and
   * `files` the files a worker decodes itself instead (see `workerDecodableFiles`).
   */
  private async makeBatch(indices: Int32Array, transformSeed: number, batchIndex: number, rows?: Promise<Uint8Array>, files?: readonly string[]): Promise<ImageBatch> {
    if (this.workers > 0) return this.makeBatchInWorker(indices, transformSeed, batchIndex, rows, files);
    if (this.transformModule !== undefined && this.transform === undefined) {
      this.loadingTransform ??= loadTransformModule(this.transformModule);
      this.transform = await this.loadingTransform;
    }
    const { dataset } = this;
    let batch: ImageBatch;
    if (isInMemory(dataset)) {
      batch = this.encode(dataset.images, indices, indices);
    } else {
      const bytes = await (rows ?? this.readDatasetRows(indices));
      batch = this.encode(bytes, Int32Array.from({ length: indices.length }, (_, i) => i), indices);
    }
    return this.finishBatch(batch, transformSeed, batchIndex);
  }

  /** Applies the in-thread `transform` to a batch: now, or when the plugin calls `applyTransform` (`deferTransform`). */
  private finishBatch(batch: ImageBatch, transformSeed: number, batchIndex: number): ImageBatch {
    const transform = this.transform;
    if (transform === undefined) return batch;
    if (!this.deferTransform) {
      return markTransformedAhead(applyBatchTransform(batch, transform, transformSeed, batchIndex), this.prefetch);
    }
    batch.applyTransform = () => {
      delete batch.applyTransform;
      const done = applyBatchTransform({ x: batch.x, y: batch.y }, transform, transformSeed, batchIndex);
      batch.x = done.x;
    };
    return batch;
  }
}
