import { createRng } from '@convkit/core';
import type { Dataset, ImageDataset, SubsetOf } from './dataset.js';
import { subset } from './dataset.js';

/** Options of {@link stratifiedSplit}. */
export interface StratifiedSplitOptions {
  /** `[train, valid, test]` fractions, each ≥ 0, summing to 1; `train` must be positive. */
  fractions: readonly [number, number, number];
  /** Seed of the random assignment. Defaults to `0`. */
  seed?: number;
}

/** The three parts returned by {@link stratifiedSplit}: in-memory datasets for an in-memory one, views otherwise. */
export interface StratifiedSplit<D extends Dataset = ImageDataset> {
  /** The training images. */
  train: D;
  /** The validation images. */
  valid: D;
  /** The test images. */
  test: D;
}

/** Groups the indices of `dataset` by label. */
export function indicesByClass(dataset: Dataset): number[][] {
  const groups: number[][] = Array.from({ length: dataset.numClasses }, () => []);
  for (let i = 0; i < dataset.length; i++) (groups[dataset.labels[i] as number] as number[]).push(i);
  return groups;
}

const ascending = (a: number, b: number): number => a - b;

/**
 * Splits a dataset at random into training, validation and test sets, class by class.
 *
 * Why: a held-out test set and a validation set should both keep the class proportions of
 * the whole, or metrics on them are biased, most of all for rare classes. Class `c` with
 * `n_c` images gives `round(n_c × train)` to training, `round(n_c × (train + valid))` minus
 * that to validation and the rest to test, so every part is exact per class to rounding and
 * the three always add up to `n_c`. Which images go where depends only on `seed`; each part
 * keeps the original relative order and copies the images (a file-backed dataset gives views, see {@link subset}).
 *
 * Options: `fractions` (required), `seed` (defaults to `0`).
 *
 * @throws if `fractions` is not three non-negative numbers summing to 1 with `train > 0`,
 *   or `seed` is not an integer.
 * @example
 * ```ts
 * const { train, valid, test } = stratifiedSplit(dataset, { fractions: [0.7, 0.15, 0.15], seed: 1 });
 * ```
 */
export function stratifiedSplit<D extends Dataset>(dataset: D, options: StratifiedSplitOptions): StratifiedSplit<SubsetOf<D>> {
  const { fractions, seed = 0 } = options;
  if (
    !Array.isArray(fractions) ||
    fractions.length !== 3 ||
    !fractions.every((f) => typeof f === 'number' && f >= 0) ||
    Math.abs(fractions[0] + fractions[1] + fractions[2] - 1) > 1e-9 ||
    !(fractions[0] > 0)
  ) {
    throw new Error(
      `fractions must be [train, valid, test], non-negative numbers summing to 1 with train > 0 (received ${JSON.stringify(fractions)})`,
    );
  }
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer (received ${seed})`);
  const rng = createRng(seed);
  const parts: [number[], number[], number[]] = [[], [], []];
  for (const group of indicesByClass(dataset)) {
    rng.shuffle(group);
    const first = Math.round(group.length * fractions[0]);
    const second = Math.round(group.length * (fractions[0] + fractions[1]));
    group.forEach((index, position) => parts[position < first ? 0 : position < second ? 1 : 2].push(index));
  }
  return {
    train: subset(dataset, parts[0].sort(ascending)),
    valid: subset(dataset, parts[1].sort(ascending)),
    test: subset(dataset, parts[2].sort(ascending)),
  };
}
