import { checkEveryClassPresent, checkLabels, describe } from './validate.js';

/** How {@link classWeights} turns class counts into weights. */
export type ClassWeightMethod = 'balanced' | 'inverse' | 'effective';

/** Options of {@link classWeights}. */
export interface ClassWeightsOptions {
  /**
   * `'balanced'`: `n / (K · n_c)` (scikit-learn's `compute_class_weight('balanced')`); `'inverse'`: `n / n_c`, the
   * inverse class frequency; `'effective'`: `(1 − β) / (1 − β^n_c)`, the inverse effective number of samples (Cui
   * et al. 2019). Defaults to `'balanced'`.
   */
  method?: ClassWeightMethod;
  /** β of the `'effective'` method, in [0, 1). Defaults to `0.999`. */
  beta?: number;
  /** Rescale the weights so that they sum to the number of classes `K` (as Cui et al. do). Defaults to `false`. */
  normalize?: boolean;
}

const METHODS: readonly ClassWeightMethod[] = ['balanced', 'inverse', 'effective'];

/**
 * Counts the samples of each class in a label array.
 *
 * @param labels - Class indices, non-negative integers.
 * @param numClasses - The number of classes. Defaults to the largest label + 1.
 * @returns `counts[c]`, the number of labels equal to `c`.
 * @throws if a label is not a non-negative integer below `numClasses`, or `labels` is empty.
 *
 * @example
 * ```ts
 * import { countClasses } from '@convkit/sampling';
 * countClasses([0, 2, 2, 1, 2], 4); // [1, 1, 3, 0]
 * ```
 */
export function countClasses(labels: ArrayLike<number>, numClasses?: number): number[] {
  const checked = checkLabels(labels, numClasses);
  const counts = new Array<number>(checked.numClasses).fill(0);
  for (const label of checked.labels) counts[label] = (counts[label] as number) + 1;
  return counts;
}

/**
 * Per-class loss weights from class counts, to make rare classes count as much as common ones.
 *
 * Why: on a 43/37/13/7 split an unweighted loss is minimised well enough by always predicting the majority class.
 * Weighting each class's error by the inverse of its frequency ("an error on class 4 is worth 100/7") removes that
 * shortcut. Use the weights with {@link weightedSoftmaxCrossEntropy} or as `alpha` of {@link focalLoss}.
 *
 * Formulas, with `n` samples, `K` classes and `n_c` samples of class `c`:
 * - `'balanced'` (default): `w_c = n / (K · n_c)` — scikit-learn's `class_weight='balanced'`; a balanced set gets 1s.
 * - `'inverse'`: `w_c = n / n_c`.
 * - `'effective'`: `w_c = (1 − β) / (1 − β^n_c)` — Cui et al., "Class-Balanced Loss Based on Effective Number of
 *   Samples" (CVPR 2019); β → 0 gives equal weights, β → 1 the inverse counts.
 *
 * Options: `method` (defaults to `'balanced'`), `beta` (defaults to `0.999`), `normalize` (rescale to sum to `K`;
 * defaults to `false`).
 *
 * @param counts - Samples per class, finite numbers > 0 (see {@link countClasses}).
 * @returns A new array of `K` weights.
 * @throws if `counts` is empty, has a negative or non-finite entry, or a zero (a class missing from the data),
 *   `method` is unknown, or `beta` is not in [0, 1).
 *
 * @example
 * ```ts
 * import { classWeights } from '@convkit/sampling';
 * classWeights([43, 37, 13, 7]); // [0.581, 0.676, 1.923, 3.571]
 * classWeights([43, 37, 13, 7], { method: 'effective', beta: 0.99, normalize: true });
 * ```
 */
export function classWeights(counts: readonly number[], options: ClassWeightsOptions = {}): number[] {
  const { method = 'balanced', beta = 0.999, normalize = false } = options;
  if (!METHODS.includes(method)) {
    throw new Error(`method must be one of ${METHODS.join(', ')} (received ${describe(method)})`);
  }
  if (method === 'effective' && (typeof beta !== 'number' || !(beta >= 0 && beta < 1))) {
    throw new Error(`beta must be a number in [0, 1) (received ${describe(beta)})`);
  }
  if (!Array.isArray(counts) || counts.length === 0) {
    throw new Error(`counts must be a non-empty array of class counts (received ${describe(counts)})`);
  }
  for (const [c, count] of counts.entries()) {
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
      throw new Error(`counts[${c}] must be a finite number >= 0 (received ${describe(count)})`);
    }
  }
  checkEveryClassPresent(counts, 'a weight from the class frequency');
  const total = counts.reduce((sum, count) => sum + count, 0);
  const classes = counts.length;
  const weights = counts.map((count) => {
    if (method === 'balanced') return total / (classes * count);
    if (method === 'inverse') return total / count;
    return (1 - beta) / (1 - beta ** count);
  });
  if (!normalize) return weights;
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((weight) => (weight * classes) / sum);
}
