import { createRng } from '@convkit/core';
import type { Dataset, SubsetOf } from './dataset.js';
import { subset } from './dataset.js';
import { indicesByClass } from './stratified-split.js';

/** Options of {@link classSubset}: give either `counts` or `proportions`. */
export interface ClassSubsetOptions {
  /** How many images to take from each class, one non-negative integer per class. */
  counts?: readonly number[];
  /**
   * The share of each class, one non-negative number per class (need not sum to 1, e.g.
   * `[43, 37, 13, 7]`). The counts are `size × share`, rounded by largest remainder so they
   * add up to `size`.
   */
  proportions?: readonly number[];
  /**
   * The total number of images with `proportions`. Defaults to the largest total every
   * class has enough images for.
   */
  size?: number;
  /** Seed of which images are taken. Defaults to `0`. */
  seed?: number;
}

function countsFromProportions(proportions: readonly number[], size: number): number[] {
  const total = proportions.reduce((a, b) => a + b, 0);
  const exact = proportions.map((p) => (size * p) / total);
  const counts = exact.map(Math.floor);
  const order = exact.map((value, c) => [value - Math.floor(value), c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let missing = size - counts.reduce((a, b) => a + b, 0);
  for (const [, c] of order) {
    if (missing-- <= 0) break;
    counts[c] = (counts[c] as number) + 1;
  }
  return counts;
}

/**
 * Draws a subset with chosen class sizes or proportions, e.g. an imbalanced 43/37/13/7 split
 * of a balanced dataset, reproducibly.
 *
 * Why: imbalance experiments need the same data at controlled class ratios. With `counts`,
 * class `c` gives exactly `counts[c]` images; with `proportions`, the counts are
 * `size × proportions[c] / Σ proportions` rounded by largest remainder, where `size`
 * defaults to the largest total that every class can supply. The images of each class are
 * drawn at random from `seed`; the result keeps the original relative order, keeps
 * `numClasses` and `classNames`, and copies the images (a file-backed dataset gives a view, see {@link subset}).
 *
 * Options: `counts` or `proportions` (exactly one), `size` (with `proportions`; defaults to
 * the largest possible), `seed` (defaults to `0`).
 *
 * @throws if neither or both of `counts` and `proportions` are given, their length is not
 *   `numClasses`, an entry is negative, or a class (named) has fewer images than asked for.
 * @example
 * ```ts
 * const imbalanced = classSubset(fourClasses, { proportions: [43, 37, 13, 7], size: 1000, seed: 3 });
 * classCounts(imbalanced); // [430, 370, 130, 70]
 * ```
 */
export function classSubset<D extends Dataset>(dataset: D, options: ClassSubsetOptions): SubsetOf<D> {
  const { seed = 0 } = options;
  const given = options.counts ?? options.proportions;
  const what = options.counts !== undefined ? 'counts' : 'proportions';
  if ((options.counts === undefined) === (options.proportions === undefined) || given === undefined) {
    throw new Error(`give exactly one of counts and proportions (received ${options.counts === undefined ? 'neither' : 'both'})`);
  }
  if (given.length !== dataset.numClasses || !given.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new Error(`${what} must hold ${dataset.numClasses} non-negative numbers, one per class (received ${JSON.stringify(given)})`);
  }
  if (options.counts !== undefined && !options.counts.every(Number.isInteger)) {
    throw new Error(`counts must be integers (received ${JSON.stringify(options.counts)})`);
  }
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer (received ${seed})`);
  const groups = indicesByClass(dataset);
  let counts: number[];
  if (options.counts !== undefined) {
    counts = [...options.counts];
  } else {
    const proportions = given;
    const total = proportions.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new Error(`proportions must not all be 0 (received ${JSON.stringify(proportions)})`);
    let size = options.size;
    if (size === undefined) {
      size = Math.floor(Math.min(...proportions.map((p, c) => (p > 0 ? ((groups[c] as number[]).length * total) / p : Infinity))));
      while (size > 0 && countsFromProportions(proportions, size).some((n, c) => n > (groups[c] as number[]).length)) size--;
    } else if (!Number.isInteger(size) || size < 0) {
      throw new Error(`size must be a non-negative integer (received ${size})`);
    }
    counts = countsFromProportions(proportions, size);
  }
  const short = counts.flatMap((n, c) =>
    n > (groups[c] as number[]).length ? [`class ${JSON.stringify(dataset.classNames[c])} (${c}) has ${(groups[c] as number[]).length} images, fewer than the ${n} asked for`] : [],
  );
  if (short.length > 0) throw new Error(`classSubset: ${short.join('; ')}`);
  const rng = createRng(seed);
  const chosen: number[] = [];
  groups.forEach((group, c) => chosen.push(...rng.shuffle(group).slice(0, counts[c])));
  return subset(dataset, chosen.sort((a, b) => a - b));
}
