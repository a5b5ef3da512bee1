import type { Rng } from '@convkit/core';
import type { IndexSampler } from '@convkit/data';
import { checkInteger } from './validate.js';

/**
 * Chooses which dataset rows form each epoch: an `IndexSampler` of `@convkit/data`, given to a `DataLoader` as its
 * `sampler` option. The loader asks for one epoch at a time (`epochIndices`) and turns the rows into batches of
 * tensors; its `length` is the sampler's `length(batchSize, dropLast)`.
 *
 * A sampler draws only from the `rng` it is given (never `Math.random`), so the same generator state gives the
 * same epoch: that is what makes the loader reproducible from its `seed` and resumable. Samplers hold no tensors.
 *
 * @example
 * ```ts
 * import { DataLoader } from '@convkit/data';
 * import { BalancedBatchSampler } from '@convkit/sampling';
 * const sampler = new BalancedBatchSampler({ labels: train.labels, batchSize: 64 });
 * const loader = new DataLoader(train, { batchSize: 64, sampler, seed: 1 });
 * ```
 */
export interface Sampler extends IndexSampler {
  /**
   * The mix between the class frequencies the sampler aims for (1) and the natural ones of the data (0), for
   * samplers that balance classes. Read when an epoch starts, so a scheduler may change it between epochs; such
   * samplers also have `getState()` → `{ balance }` and `setState`, so the loader saves and restores it.
   */
  balance?: number;
}

/** Reads the `balance` of a `{ balance }` sampler state; throws naming the state otherwise. */
export function balanceOf(state: unknown): number {
  const balance = (state as { balance?: unknown } | null)?.balance;
  if (typeof balance !== 'number') throw new Error(`state must be { balance: number } (received ${JSON.stringify(state)})`);
  return balance;
}

/** Batches of a flat order of `size` rows: `ceil(size / batchSize)`, or `floor` with `dropLast`. */
export function flatLength(size: number, batchSize: number, dropLast: boolean): number {
  checkInteger('batchSize', batchSize, 1);
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** Rows of each class, in dataset order. */
export function rowsByClass(labels: Int32Array, numClasses: number): Int32Array[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label] = (counts[label] as number) + 1;
  const rows = counts.map((count) => new Int32Array(count));
  const filled = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    (rows[label] as Int32Array)[filled[label] as number] = i;
    filled[label] = (filled[label] as number) + 1;
  }
  return rows;
}

