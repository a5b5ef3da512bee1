import type { Rng } from '@convkit/core';

/**
 * Chooses the order of dataset rows for each epoch of a {@link DataLoader}, in place of its
 * default seeded shuffle: weighted draws, class-balanced batches, over- or undersampling
 * (see `@convkit/sampling`), or any custom order.
 *
 * Why: the loader owns batching, prefetching, the transform's generators and resuming; the
 * sampler only decides which rows an epoch visits. It must draw only from the `rng` it is
 * given (never `Math.random`), so that the same generator state gives the same epoch: that is
 * what keeps a loader with a sampler reproducible from its `seed` and resumable mid-epoch. A
 * sampler holds no tensors.
 *
 * Members: `epochIndices` and `length` (required); `getState` / `setState` (optional) for a
 * sampler with settings that may change between epochs (e.g. a scheduled `balance`): the
 * loader saves the sampler's state when an epoch starts and restores it when it resumes that
 * epoch, so the rest of the epoch is drawn exactly as in the original run.
 *
 * @example
 * ```ts
 * // Every epoch visits the rows in reverse order, in batches of the loader's batchSize.
 * const reverse: IndexSampler = {
 *   epochIndices: () => Int32Array.from({ length: dataset.length }, (_, i) => dataset.length - 1 - i),
 *   length: (batchSize, dropLast) => (dropLast ? Math.floor : Math.ceil)(dataset.length / batchSize),
 * };
 * const loader = new DataLoader(dataset, { batchSize: 32, sampler: reverse });
 * ```
 */
export interface IndexSampler {
  /**
   * The rows of epoch `epoch` (counting from 0), drawn from `rng`: either one flat order, which
   * the loader cuts into batches of its `batchSize` (the last one smaller unless `dropLast`), or
   * the batches themselves. Rows are indices into the loader's dataset and may repeat.
   */
  epochIndices(epoch: number, rng: Rng): Int32Array | Int32Array[];
  /**
   * How many batches one epoch yields for this `batchSize` and `dropLast`; the loader's
   * `length`. Throws if the sampler cannot serve that `batchSize`.
   */
  length(batchSize: number, dropLast: boolean): number;
  /** The sampler's settings that shape an epoch, JSON-serialisable; saved when an epoch starts. */
  getState?(): unknown;
  /** Restores settings from {@link IndexSampler.getState}; throws on a state it cannot take. */
  setState?(state: unknown): void;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name: string = value.constructor?.name ?? 'Object';
  const article = /^[AEIOU]/i.test(name) ? 'an' : 'a';
  return ArrayBuffer.isView(value) ? `${article} ${name} of ${(value as Int32Array).length}` : `${article} ${name}`;
}

/** Throws unless `sampler` is an {@link IndexSampler}. */
export function checkSampler(sampler: unknown): asserts sampler is IndexSampler {
  const candidate = sampler as Partial<IndexSampler> | null;
  const optional = (name: 'getState' | 'setState'): boolean =>
    candidate?.[name] === undefined || typeof candidate[name] === 'function';
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.epochIndices !== 'function' ||
    typeof candidate.length !== 'function' ||
    !optional('getState') ||
    !optional('setState')
  ) {
    throw new Error(
      `sampler must be an IndexSampler { epochIndices(epoch, rng), length(batchSize, dropLast) } (received ${describe(sampler)})`,
    );
  }
}

/** Batches of a flat order of `size` rows: `ceil(size / batchSize)`, or `floor` with `dropLast`. */
export function flatLength(size: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** Checks `sampler` and the loader options it comes with; returns the batches per epoch. */
export function samplerLength(
  sampler: unknown,
  options: { batchSize: number; dropLast?: boolean; shuffle?: boolean },
): number {
  checkSampler(sampler);
  const { batchSize, dropLast = false, shuffle } = options;
  if (shuffle !== undefined) {
    throw new Error(`shuffle must be left unset when a sampler chooses the order (received ${String(shuffle)})`);
  }
  const length = sampler.length(batchSize, dropLast);
  if (length === 0 && dropLast) {
    throw new Error(`batchSize must be at most the sampler's epoch size when dropLast is true (received ${batchSize})`);
  }
  if (!Number.isInteger(length) || length < 1) {
    throw new Error(`sampler.length(${batchSize}, ${dropLast}) must return a positive integer (received ${describe(length)})`);
  }
  return length;
}

/** Where an epoch's rows must land: the loader's batching and dataset size. */
export interface EpochShape {
  batchSize: number;
  dropLast: boolean;
  /** Batches the epoch must have (the sampler's `length`). */
  length: number;
  /** Rows of the dataset; every row must be in `[0, datasetSize)`. */
  datasetSize: number;
}

function checkRows(rows: Int32Array, datasetSize: number): void {
  for (const row of rows) {
    if (row < 0 || row >= datasetSize) {
      throw new Error(`sampler.epochIndices chose row ${row}, outside the dataset of ${datasetSize} rows`);
    }
  }
}

/**
 * Checks what `epochIndices` returned and returns the rows of each batch: the batches as
 * given, or a flat order cut into batches of `batchSize` (views, not copies).
 */
export function epochBatches(indices: Int32Array | Int32Array[], shape: EpochShape): Int32Array[] {
  const { batchSize, dropLast, length, datasetSize } = shape;
  if (Array.isArray(indices)) {
    if (indices.length !== length) {
      throw new Error(`sampler.epochIndices must return ${length} batches, as its length() says (received ${indices.length})`);
    }
    indices.forEach((batch, b) => {
      if (!(batch instanceof Int32Array) || batch.length === 0) {
        throw new Error(`sampler.epochIndices batch ${b} must be a non-empty Int32Array (received ${describe(batch)})`);
      }
      checkRows(batch, datasetSize);
    });
    return indices;
  }
  if (!(indices instanceof Int32Array)) {
    throw new Error(`sampler.epochIndices must return an Int32Array or an array of them (received ${describe(indices)})`);
  }
  if (flatLength(indices.length, batchSize, dropLast) !== length) {
    throw new Error(
      `sampler.epochIndices must return an order of ${length} batches of ${batchSize}, as its length() says ` +
        `(received ${indices.length} rows)`,
    );
  }
  checkRows(indices.subarray(0, length * batchSize), datasetSize);
  return Array.from({ length }, (_, b) => indices.subarray(b * batchSize, Math.min((b + 1) * batchSize, indices.length)));
}
