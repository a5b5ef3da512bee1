import type { Rng } from '@convkit/core';
import { balanceOf, flatLength } from './sampler.js';
import type { Sampler } from './sampler.js';
import { countClasses } from './class-weights.js';
import { checkEveryClassPresent, checkInteger, checkLabels, checkUnit, checkWeights, describe } from './validate.js';

/** Options of {@link WeightedRandomSampler}: per-row `weights`, or `labels` to weight each class equally. */
export interface WeightedRandomSamplerOptions {
  /** A non-negative weight per dataset row (not all zero). Give this or `labels`. */
  weights?: ArrayLike<number>;
  /** Class indices per dataset row: each class then gets the same total weight. Give this or `weights`. */
  labels?: ArrayLike<number>;
  /** The number of classes of `labels`. Defaults to the largest label + 1; every class must occur. */
  numClasses?: number;
  /** Rows drawn per epoch. Defaults to the number of rows. */
  numSamples?: number;
  /** Draw with replacement (rows may repeat within an epoch). Defaults to `true`. */
  replacement?: boolean;
  /** Mix of the weights (1) and uniform weights (0), in [0, 1]; schedulable. Defaults to `1`. */
  balance?: number;
}

/** Index of the first entry of the increasing `cumulative` greater than `target`. */
function search(cumulative: Float64Array, target: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((cumulative[middle] as number) > target) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * Draws dataset rows at random with probability proportional to a weight per row, like PyTorch's
 * `WeightedRandomSampler`, with or without replacement.
 *
 * Why: oversampling rare classes (or hard examples) without copying data. With `labels` instead of `weights`, each
 * row weighs `1 / (K · n_c)` for its class `c`, so every class is drawn equally often on average; `balance` then
 * moves between those class-balanced draws (1) and the data's natural frequencies (0): the probability of row `i` is
 * `p_i = balance · w_i / Σw + (1 − balance) / n`. `balance` is read at the start of every epoch, so a scheduler can
 * anneal it (see {@link samplerParams}).
 *
 * With replacement each draw is independent (inverse-CDF sampling, O(log n) per draw). Without replacement the rows
 * are drawn one after another, each time in proportion to the weights of the rows left (Efraimidis–Spirakis keys
 * `log(u) / p_i`, the largest first); rows of weight 0 are never drawn, and `numSamples` must not exceed the number
 * of rows with a positive weight.
 *
 * Options: `weights` or `labels` (one of them); `numClasses` (defaults to the largest label + 1); `numSamples`
 * (defaults to the number of rows); `replacement` (defaults to `true`); `balance` (defaults to `1`).
 *
 * @example
 * ```ts
 * import { DataLoader } from '@convkit/data';
 * import { WeightedRandomSampler } from '@convkit/sampling';
 * const sampler = new WeightedRandomSampler({ labels: dataset.labels }); // each class drawn equally often
 * const loader = new DataLoader(dataset, { batchSize: 64, sampler, seed: 1 });
 * ```
 */
export class WeightedRandomSampler implements Sampler {
  /** Rows drawn per epoch. */
  readonly numSamples: number;
  /** Whether rows may repeat within an epoch. */
  readonly replacement: boolean;
  private readonly weights: Float64Array;
  private mix: number;

  /**
   * @throws if neither or both of `weights` and `labels` are given, a weight is negative or all are zero, a class of
   *   `labels` has no row, `numSamples` is not a positive integer (or, without replacement, exceeds the rows with a
   *   positive weight), or `balance` is not in [0, 1].
   */
  constructor(options: WeightedRandomSamplerOptions) {
    const { weights, labels, numClasses, replacement = true, balance = 1 } = options ?? {};
    if ((weights === undefined) === (labels === undefined)) {
      throw new Error(
        `give exactly one of weights and labels (received ${weights === undefined ? 'neither' : 'both'})`
      );
    }
    if (typeof replacement !== 'boolean') throw new Error(`replacement must be a boolean (received ${describe(replacement)})`);
    checkUnit('balance', balance);
    if (labels !== undefined) {
      const checked = checkLabels(labels, numClasses);
      const counts = countClasses(checked.labels, checked.numClasses);
      checkEveryClassPresent(counts, 'class-balanced sampling');
      this.weights = Float64Array.from(checked.labels, (label) => 1 / (checked.numClasses * (counts[label] as number)));
    } else {
      this.weights = checkWeights('weights', weights);
    }
    const total = this.weights.reduce((sum, weight) => sum + weight, 0);
    for (let i = 0; i < this.weights.length; i++) this.weights[i] = (this.weights[i] as number) / total;
    const numSamples = options.numSamples ?? this.weights.length;
    checkInteger('numSamples', numSamples, 1);
    this.numSamples = numSamples;
    this.replacement = replacement;
    this.mix = balance;
    this.checkDrawable(balance);
  }

  /** The mix of the weights (1) and uniform draws (0); read when an epoch starts. */
  get balance(): number {
    return this.mix;
  }

  set balance(value: number) {
    checkUnit('balance', value);
    this.checkDrawable(value);
    this.mix = value;
  }

  /** `{ balance }`: what the loader saves when an epoch starts, to resume that epoch exactly. */
  getState(): { balance: number } {
    return { balance: this.mix };
  }

  /** Restores `{ balance }` from {@link WeightedRandomSampler.getState}. @throws if `balance` is missing or not in [0, 1]. */
  setState(state: unknown): void {
    this.balance = balanceOf(state);
  }

  /** The probability of each row in one draw with the current `balance` (a new array). */
  probabilities(): Float64Array {
    const uniform = (1 - this.mix) / this.weights.length;
    return this.weights.map((weight) => this.mix * weight + uniform);
  }

  /** The rows of one epoch, a flat order of `numSamples` rows drawn with `rng`. */
  epochIndices(_epoch: number, rng: Rng): Int32Array {
    const probabilities = this.probabilities();
    const result = new Int32Array(this.numSamples);
    if (this.replacement) {
      const cumulative = new Float64Array(probabilities.length);
      let sum = 0;
      for (let i = 0; i < probabilities.length; i++) cumulative[i] = sum += probabilities[i] as number;
      for (let k = 0; k < result.length; k++) {
        result[k] = search(cumulative, rng.next() * sum); // lands only on rows of positive probability
      }
      return result;
    }
    const keys = new Float64Array(probabilities.length);
    const rows = new Int32Array(probabilities.length);
    for (let i = 0; i < probabilities.length; i++) {
      const probability = probabilities[i] as number;
      const u = 1 - rng.next(); // (0, 1]
      keys[i] = probability > 0 ? Math.log(u) / probability : Number.NEGATIVE_INFINITY;
      rows[i] = i;
    }
    // A random tie-break order first, so that equal keys (e.g. u = 1) are not biased towards low rows.
    rng.shuffle(rows);
    const sorted = Array.from(rows).sort((a, b) => (keys[b] as number) - (keys[a] as number));
    for (let k = 0; k < result.length; k++) result[k] = sorted[k] as number;
    return result;
  }

  /** Batches per epoch: `ceil(numSamples / batchSize)`, or `floor` with `dropLast`. */
  length(batchSize: number, dropLast: boolean): number {
    return flatLength(this.numSamples, batchSize, dropLast);
  }

  private checkDrawable(balance: number): void {
    if (this.replacement) return;
    const positive =
      balance < 1 ? this.weights.length : this.weights.reduce((count, weight) => count + (weight > 0 ? 1 : 0), 0);
    if (this.numSamples > positive) {
      throw new Error(
        `numSamples must be at most the ${positive} rows with a positive weight when drawing without replacement ` +
          `(received ${this.numSamples})`
      );
    }
  }
}
