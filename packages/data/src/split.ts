import { createRng } from '@convkit/core';
import type { Rng } from '@convkit/core';
import type { Dataset, ImageDataset, SubsetOf } from './dataset.js';
import { subset } from './dataset.js';

/**
 * Returns the integers `0 … n-1` in a random order drawn from `rng`.
 *
 * The order depends only on the state of `rng`, so the same seed gives the same order on
 * every run and machine. Advances `rng`.
 *
 * @param n - how many indices, a non-negative integer.
 * @param rng - the seeded generator to draw from (from `createRng(seed)` of `@convkit/core`).
 * @example
 * ```ts
 * shuffleIndices(5, createRng(42)); // e.g. Int32Array [3, 0, 4, 1, 2], the same on every run
 * ```
 */
export function shuffleIndices(n: number, rng: Rng): Int32Array {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`n must be a non-negative integer (received ${n})`);
  }
  return rng.permutation(n);
}

/** Options of {@link trainValidSplit}. */
export interface TrainValidSplitOptions {
  /** The fraction of images that go to the validation set, strictly between 0 and 1. */
  validFraction: number;
  /** Seed of the random assignment. Defaults to `0`. */
  seed?: number;
  /**
   * Whether to split each class separately in the same proportion, so both sets keep the
   * class balance of the whole. Defaults to `true`.
   */
  stratify?: boolean;
}

/** The two halves returned by {@link trainValidSplit}: in-memory datasets for an in-memory one, views otherwise. */
export interface TrainValidSplit<D extends Dataset = ImageDataset> {
  /** The images kept for training. */
  train: D;
  /** The images held out for validation. */
  valid: D;
}

/**
 * Splits a dataset at random into a training set and a validation set, reproducibly.
 *
 * With `stratify` (the default), each class `c` with `n_c` images gives exactly
 * `round(n_c × validFraction)` of them to the validation set, so both sets keep the class
 * proportions of the whole; without it, `round(n × validFraction)` images are drawn from
 * the whole. Which images go where depends only on `seed`. Both sets keep the images in
 * their original relative order (a {@link DataLoader} shuffles them anyway). The images are
 * copied; neither set aliases `dataset` (a file-backed dataset gives two views, see {@link subset}).
 *
 * @throws if `validFraction` is not strictly between 0 and 1, or leaves either set empty.
 * @example
 * ```ts
 * const { train, valid } = trainValidSplit(await loadFashionMnist({ split: 'train' }), { validFraction: 0.1, seed: 1 });
 * train.length; // 54000, 5400 per class
 * ```
 */
export function trainValidSplit<D extends Dataset>(dataset: D, options: TrainValidSplitOptions): TrainValidSplit<SubsetOf<D>> {
  const { validFraction, seed = 0, stratify = true } = options;
  if (typeof validFraction !== 'number' || !(validFraction > 0 && validFraction < 1)) {
    throw new Error(`validFraction must be a number strictly between 0 and 1 (received ${validFraction})`);
  }
  if (!Number.isInteger(seed)) {
    throw new Error(`seed must be an integer (received ${seed})`);
  }
  const rng = createRng(seed);
  const groups: number[][] = stratify ? Array.from({ length: dataset.numClasses }, () => []) : [[]];
  for (let i = 0; i < dataset.length; i++) {
    (groups[stratify ? (dataset.labels[i] as number) : 0] as number[]).push(i);
  }
  const trainIndices: number[] = [];
  const validIndices: number[] = [];
  for (const group of groups) {
    rng.shuffle(group);
    const validCount = Math.round(group.length * validFraction);
    group.forEach((index, position) => (position < validCount ? validIndices : trainIndices).push(index));
  }
  if (trainIndices.length === 0 || validIndices.length === 0) {
    throw new Error(
      `validFraction ${validFraction} leaves the ${validIndices.length === 0 ? 'validation' : 'training'} set empty ` +
        `for a dataset of ${dataset.length} images`,
    );
  }
  const ascending = (a: number, b: number): number => a - b;
  return {
    train: subset(dataset, trainIndices.sort(ascending)),
    valid: subset(dataset, validIndices.sort(ascending)),
  };
}
