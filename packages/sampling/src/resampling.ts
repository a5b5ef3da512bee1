import type { Rng } from '@convkit/core';
import { countClasses } from './class-weights.js';
import { flatLength, rowsByClass } from './sampler.js';
import type { Sampler } from './sampler.js';
import { checkDistribution, checkLabels, describe } from './validate.js';

/** `'over'`: keep every row and repeat rows of the under-represented classes; `'under'`: drop rows of the others. */
export type ResampleMode = 'over' | 'under';

/** Options of {@link resampleCounts}, {@link resample} and {@link ResamplingSampler}. */
export interface ResampleOptions {
  /** Over- or undersampling. */
  mode: ResampleMode;
  /** The class distribution to reach: one probability per class, summing to 1. Defaults to equal shares. */
  target?: readonly number[];
}

/**
 * The row count of each class after over- or undersampling `counts` to the distribution `target`.
 *
 * Oversampling keeps every row: with the scale `s = max_c n_c / t_c` (over classes with `t_c > 0`), class `c` gets
 * `ceil(s · t_c) ≥ n_c` rows. Undersampling keeps no row twice: with `s = min_c n_c / t_c`, class `c` gets
 * `floor(s · t_c) ≤ n_c` rows. A class with `t_c = 0` gets none.
 *
 * @param counts - Rows per class (see `countClasses`).
 * @param options - `mode` (required) and `target` (defaults to equal shares).
 * @returns A new array of counts.
 * @throws if `target` has the wrong length, a negative entry or does not sum to 1, or a class with `t_c > 0` has no
 *   row.
 *
 * @example
 * ```ts
 * import { resampleCounts } from '@convkit/sampling';
 * resampleCounts([43, 37, 13, 7], { mode: 'over' });  // [43, 43, 43, 43]
 * resampleCounts([43, 37, 13, 7], { mode: 'under' }); // [7, 7, 7, 7]
 * resampleCounts([43, 37, 13, 7], { mode: 'over', target: [0.4, 0.3, 0.2, 0.1] }); // [50, 37, 25, 13]
 * ```
 */
export function resampleCounts(counts: readonly number[], options: ResampleOptions): number[] {
  const { mode, target } = options ?? ({} as ResampleOptions);
  if (mode !== 'over' && mode !== 'under') throw new Error(`mode must be 'over' or 'under' (received ${describe(mode)})`);
  if (!Array.isArray(counts) || counts.length === 0) {
    throw new Error(`counts must be a non-empty array of class counts (received ${describe(counts)})`);
  }
  const shares =
    target === undefined ? counts.map(() => 1 / counts.length) : checkDistribution('target', target, counts.length);
  let scale = mode === 'over' ? 0 : Number.POSITIVE_INFINITY;
  for (const [c, count] of counts.entries()) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new Error(`counts[${c}] must be a non-negative integer (received ${describe(count)})`);
    }
    const share = shares[c] as number;
    if (share === 0) continue;
    if (count === 0) {
      throw new Error(
        `labels has no sample of class ${c} (class counts ${describe(counts)}), but target gives it ${share}; ` +
          'resampling cannot create a class (set its target to 0 or add samples)'
      );
    }
    scale = mode === 'over' ? Math.max(scale, count / share) : Math.min(scale, count / share);
  }
  return shares.map((share, c) => {
    if (share === 0) return 0;
    const exact = scale * share;
    // The class that sets the scale gets its own count exactly, whatever the floating-point rounding.
    return mode === 'over'
      ? Math.max(counts[c] as number, Math.ceil(exact - 1e-9))
      : Math.min(counts[c] as number, Math.floor(exact + 1e-9));
  });
}

/** Rows of each class drawn to hit `targets` exactly: all rows plus draws with replacement, or a subset. */
function drawRows(rows: Int32Array[], targets: readonly number[], rng: Rng): Int32Array {
  const result = new Int32Array(targets.reduce((sum, count) => sum + count, 0));
  let k = 0;
  for (const [c, classRows] of rows.entries()) {
    const wanted = targets[c] as number;
    if (wanted >= classRows.length) {
      result.set(classRows, k);
      k += classRows.length;
      for (let extra = classRows.length; extra < wanted; extra++) result[k++] = classRows[rng.int(0, classRows.length)] as number;
    } else {
      const order = rng.shuffle(classRows.slice());
      result.set(order.subarray(0, wanted), k);
      k += wanted;
    }
  }
  return rng.shuffle(result);
}

/**
 * Over- or undersamples a labelled dataset to a target class distribution: returns the rows to use, shuffled.
 *
 * Why: a balanced copy (or a balanced subset) of imbalanced data, e.g. to build a fixed balanced training set.
 * Oversampling keeps every row and adds rows of the rarer classes drawn with replacement; undersampling keeps a
 * random subset of each class without repeats. The class counts are exactly {@link resampleCounts}.
 *
 * @param labels - Class indices per row.
 * @param options - `mode` (required), `target` (defaults to equal shares), `numClasses` (defaults to the largest
 *   label + 1).
 * @param rng - The seeded generator to draw from.
 * @returns A new `Int32Array` of row indices (pass it to `subset(dataset, rows)` of `@convkit/data`).
 * @throws as {@link resampleCounts}, and if a label is not a class index.
 *
 * @example
 * ```ts
 * import { createRng } from '@convkit/core';
 * import { subset } from '@convkit/data';
 * import { resample } from '@convkit/sampling';
 * const balancedSubset = subset(train, resample(train.labels, { mode: 'under' }, createRng(0)));
 * ```
 */
export function resample(labels: ArrayLike<number>, options: ResampleOptions & { numClasses?: number }, rng: Rng): Int32Array {
  const checked = checkLabels(labels, options?.numClasses);
  const targets = resampleCounts(countClasses(checked.labels, checked.numClasses), options);
  return drawRows(rowsByClass(checked.labels, checked.numClasses), targets, rng);
}

/** Options of {@link ResamplingSampler}. */
export interface ResamplingSamplerOptions extends ResampleOptions {
  /** Class indices per dataset row. */
  labels: ArrayLike<number>;
  /** The number of classes. Defaults to the largest label + 1. */
  numClasses?: number;
}

/**
 * A sampler that over- or undersamples to a target class distribution afresh every epoch: undersampling sees a
 * different subset of the common classes each epoch, oversampling different repeats of the rare ones. Every epoch has
 * the same class counts, {@link resampleCounts}, and so the same length.
 *
 * Options: `labels` and `mode` (required); `target` (defaults to equal shares); `numClasses` (defaults to the largest
 * label + 1).
 *
 * @example
 * ```ts
 * import { DataLoader } from '@convkit/data';
 * import { ResamplingSampler } from '@convkit/sampling';
 * const sampler = new ResamplingSampler({ labels: dataset.labels, mode: 'under' });
 * const loader = new DataLoader(dataset, { batchSize: 32, sampler, seed: 3 });
 * ```
 */
export class ResamplingSampler implements Sampler {
  /** The rows of each class per epoch. */
  readonly classCounts: readonly number[];
  /** Rows per epoch. */
  readonly epochSize: number;
  private readonly rows: Int32Array[];

  /** @throws as {@link resample}. */
  constructor(options: ResamplingSamplerOptions) {
    const checked = checkLabels(options?.labels, options?.numClasses);
    this.classCounts = resampleCounts(countClasses(checked.labels, checked.numClasses), options);
    this.epochSize = this.classCounts.reduce((sum, count) => sum + count, 0);
    this.rows = rowsByClass(checked.labels, checked.numClasses);
  }

  /** One epoch's rows, a flat shuffled order with exactly `classCounts` rows per class. */
  epochIndices(_epoch: number, rng: Rng): Int32Array {
    return drawRows(this.rows, this.classCounts, rng);
  }

  /** Batches per epoch: `ceil(epochSize / batchSize)`, or `floor` with `dropLast`. */
  length(batchSize: number, dropLast: boolean): number {
    return flatLength(this.epochSize, batchSize, dropLast);
  }
}
