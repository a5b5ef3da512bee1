import { createRng } from '@convkit/core';
import type { Rng, RngState } from '@convkit/core';
import * as tf from '@tensorflow/tfjs';
import { createBatchEncoder } from './batch-encoder.js';
import type { BatchEncoder, BatchEncodingOptions, ImageBatch } from './batch-encoder.js';
import type { ImageDataset } from './dataset.js';
import { EpochIterator } from './epoch-iterator.js';
import type { EpochHost } from './epoch-iterator.js';

/**
 * A batch transform applied after normalisation, e.g. augmentation.
 *
 * It receives the batch images and a generator seeded for this batch alone (so a resumed
 * loader reproduces it exactly), and returns the transformed images with the same batch
 * size. It runs inside `tf.tidy`; the loader disposes the input when a new tensor is
 * returned.
 */
export type BatchTransform = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions extends BatchEncodingOptions {
  /** Images per batch, a positive integer. */
  batchSize: number;
  /** Whether each epoch visits the images in a fresh random order. Defaults to `true`. */
  shuffle?: boolean;
  /** Seed of the orders and of the transform's generators. Defaults to `0`. */
  seed?: number;
  /** Whether to drop the last, smaller batch of an epoch. Defaults to `false`. */
  dropLast?: boolean;
  /** How many batches to build ahead of the one the consumer holds. Defaults to `2`; `0` builds on demand. */
  prefetch?: number;
  /** A transform applied to every batch's images, e.g. augmentation. Defaults to none. */
  transform?: BatchTransform;
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
}

/** Hashes (seed, batch) into an independent 31-bit seed (murmur3 finaliser). */
function batchSeed(seed: number, batchIndex: number): number {
  let h = (seed ^ Math.imul(batchIndex + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 1;
}

function checkInteger(name: string, value: unknown, minimum: number, what: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new Error(`${name} must be ${what} (received ${String(value)})`);
  }
}

/**
 * Delivers an {@link ImageDataset} as shuffled, normalised, prefetched batches of tensors.
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
 * `1/255`); `mean`, `std` (per channel, default none); `transform` (default none).
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
  /** The dataset being served. */
  readonly dataset: ImageDataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Batches per (full) epoch. */
  readonly length: number;
  private readonly shuffle: boolean;
  private readonly prefetch: number;
  private readonly transform: BatchTransform | undefined;
  private readonly encode: BatchEncoder;
  private readonly encoding: BatchEncodingOptions;
  private readonly rng: Rng;
  private epochIndex = 0;
  private position = 0;
  private epochStart: RngState;
  private active: EpochIterator | undefined;
  private afterEpochDraws: RngState | undefined;

  /**
   * @throws if `batchSize` is not a positive integer, `prefetch` not a non-negative integer,
   *   `seed` not an integer, the dataset empty (or, with `dropLast`, smaller than one batch),
   *   or `mean`/`std` do not have one entry per channel.
   */
  constructor(dataset: ImageDataset, options: DataLoaderOptions) {
    const { batchSize, shuffle = true, seed = 0, dropLast = false, prefetch = 2, transform } = options;
    checkInteger('batchSize', batchSize, 1, 'a positive integer');
    checkInteger('prefetch', prefetch, 0, 'a non-negative integer');
    checkInteger('seed', seed, Number.MIN_SAFE_INTEGER, 'an integer');
    if (transform !== undefined && typeof transform !== 'function') {
      throw new Error(`transform must be a function (x, rng) => x (received ${typeof transform})`);
    }
    if (dataset.length === 0) {
      throw new Error(`dataset must not be empty (received a dataset of 0 images from ${dataset.source})`);
    }
    const length = dropLast ? Math.floor(dataset.length / batchSize) : Math.ceil(dataset.length / batchSize);
    if (length === 0) {
      throw new Error(
        `batchSize must be at most the dataset size ${dataset.length} when dropLast is true (received ${batchSize})`,
      );
    }
    this.encoding = { labels: options.labels ?? 'oneHot', scale: options.scale ?? 1 / 255 };
    if (options.mean !== undefined) this.encoding.mean = options.mean;
    if (options.std !== undefined) this.encoding.std = options.std;
    this.encode = createBatchEncoder(dataset, this.encoding);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.length = length;
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

  /**
   * Starts an epoch: the next one, or the rest of an interrupted one after {@link setState}.
   * Starting an epoch while another is still open closes the older one first.
   *
   * @returns an iterator of batches; the consumer disposes each batch's `x` and `y`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ImageBatch> {
    void this.active?.close();
    this.rng.setState(this.epochStart);
    const count = this.dataset.length;
    const order = this.shuffle ? this.rng.permutation(count) : Int32Array.from({ length: count }, (_, i) => i);
    const transformSeed = this.rng.int(0, 0x7fffffff);
    this.afterEpochDraws = this.rng.getState();
    const make = (batchIndex: number): ImageBatch => {
      const start = batchIndex * this.batchSize;
      return this.makeBatch(order.subarray(start, Math.min(start + this.batchSize, count)), transformSeed, batchIndex);
    };
    const host: EpochHost = {
      onDelivered: (iterator, delivered) => {
        if (iterator !== this.active) return;
        this.position = delivered;
        if (delivered >= this.length) this.finishEpoch();
      },
      onClosed: (iterator) => {
        if (iterator === this.active) this.finishEpoch();
      },
    };
    const iterator = new EpochIterator(host, this.length, this.position, this.prefetch, make);
    this.active = iterator;
    return iterator;
  }

  /**
   * Returns where the loader stands, to resume it later with {@link setState}, e.g. from a
   * checkpoint. Taken after `k` batches of an epoch, it resumes with batch `k + 1`.
   */
  getState(): DataLoaderState {
    return { epoch: this.epochIndex, position: this.position, rng: structuredClone(this.epochStart) };
  }

  /**
   * Restores a state from {@link getState} (of a loader with the same dataset and options).
   * The next epoch started yields the rest of the saved epoch; later epochs follow as in
   * the original run. Closes any open epoch of this loader.
   *
   * @throws if `epoch` or `position` are out of range or `rng` is not a generator state.
   */
  setState(state: DataLoaderState): void {
    checkInteger('state.epoch', state?.epoch, 0, 'a non-negative integer');
    if (!Number.isInteger(state.position) || state.position < 0 || state.position >= this.length) {
      throw new Error(`state.position must be an integer in [0, ${this.length}) (received ${state.position})`);
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
    return this.encode(Int32Array.from({ length: this.dataset.length }, (_, i) => i));
  }

  private finishEpoch(): void {
    this.epochIndex += 1;
    this.position = 0;
    this.epochStart = this.afterEpochDraws ?? this.rng.getState();
    this.active = undefined;
  }

  private makeBatch(indices: Int32Array, transformSeed: number, batchIndex: number): ImageBatch {
    const batch = this.encode(indices);
    const transform = this.transform;
    if (transform === undefined) return batch;
    let x: tf.Tensor4D | undefined;
    try {
      const rng = createRng(batchSeed(transformSeed, batchIndex));
      x = tf.tidy(() => transform(batch.x, rng));
      if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[0] !== indices.length) {
        const got = x instanceof tf.Tensor ? `shape [${x.shape.join(', ')}]` : String(x);
        throw new Error(`transform must return a 4-D tensor of batch size ${indices.length} (received ${got})`);
      }
    } catch (error) {
      if (x instanceof tf.Tensor && x !== batch.x) x.dispose();
      tf.dispose([batch.x, batch.y]);
      throw error;
    }
    if (x !== batch.x) batch.x.dispose();
    return { x, y: batch.y };
  }
}
