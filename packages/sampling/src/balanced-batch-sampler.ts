import type { Rng } from '@convkit/core';
import { countClasses } from './class-weights.js';
import { balanceOf, rowsByClass } from './sampler.js';
import type { Sampler } from './sampler.js';
import { checkEveryClassPresent, checkInteger, checkLabels, checkUnit, describe } from './validate.js';

/** Options of {@link BalancedBatchSampler}. */
export interface BalancedBatchSamplerOptions {
  /** Class indices per dataset row. */
  labels: ArrayLike<number>;
  /** Rows per batch. */
  batchSize: number;
  /** The number of classes. Defaults to the largest label + 1; every class must occur. */
  numClasses?: number;
  /** Batches per epoch. Defaults to `ceil(rows / batchSize)`, about one pass over the data. */
  numBatches?: number;
  /** Mix of equal class shares (1) and the natural class frequencies (0), in [0, 1]; schedulable. Defaults to `1`. */
  balance?: number;
}

/**
 * Builds batches in which each class has its share of the rows: with `balance = 1` and `batchSize` divisible by the
 * number of classes `K`, every batch holds exactly `batchSize / K` rows of each class.
 *
 * Why: "in every batch, enforce that 1/4 of the examples are from class 1, 1/4 from class 2, etc." — the standard
 * fix for a network stuck predicting the majority class. Rare classes are oversampled (their rows are cycled, in a
 * fresh random order each pass) and common ones are undersampled per epoch.
 *
 * Each batch's share of class `c` is `q_c = batchSize · (balance / K + (1 − balance) · n_c / n)`. Each class gets
 * `floor(q_c)` rows, and the `batchSize − Σ floor(q_c)` remaining slots go to classes drawn by systematic sampling
 * on the fractional parts, so class `c` gets exactly `q_c` rows per batch on average. Within a class, rows come from
 * a shuffled cycle through its rows (each row once before any repeats); the rows of a batch are then shuffled.
 * `balance` is read at the start of every epoch, so a scheduler can move from balanced batches to the natural
 * frequencies over training (see {@link samplerParams}).
 *
 * Options: `labels` and `batchSize` (required); `numClasses` (defaults to the largest label + 1); `numBatches`
 * (defaults to `ceil(rows / batchSize)`); `balance` (defaults to `1`).
 *
 * @example
 * ```ts
 * import { DataLoader } from '@convkit/data';
 * import { BalancedBatchSampler } from '@convkit/sampling';
 * const sampler = new BalancedBatchSampler({ labels: dataset.labels, batchSize: 64 }); // 4 classes: 16 of each
 * const loader = new DataLoader(dataset, { batchSize: 64, sampler, seed: 1 });
 * ```
 */
export class BalancedBatchSampler implements Sampler {
  /** Rows per batch. */
  readonly batchSize: number;
  /** Batches per epoch. */
  readonly numBatches: number;
  /** The number of classes. */
  readonly numClasses: number;
  private readonly rows: Int32Array[];
  private readonly natural: number[];
  private mix: number;

  /**
   * @throws if a label is not a class index, a class has no row, `batchSize` or `numBatches` is not a positive
   *   integer, or `balance` is not in [0, 1].
   */
  constructor(options: BalancedBatchSamplerOptions) {
    const { labels, batchSize, numClasses, balance = 1 } = options ?? ({} as BalancedBatchSamplerOptions);
    const checked = checkLabels(labels, numClasses);
    checkInteger('batchSize', batchSize, 1);
    const numBatches = options.numBatches ?? Math.ceil(checked.labels.length / batchSize);
    checkInteger('numBatches', numBatches, 1);
    checkUnit('balance', balance);
    const counts = countClasses(checked.labels, checked.numClasses);
    checkEveryClassPresent(counts, 'a balanced batch');
    this.batchSize = batchSize;
    this.numBatches = numBatches;
    this.numClasses = checked.numClasses;
    this.rows = rowsByClass(checked.labels, checked.numClasses);
    this.natural = counts.map((count) => count / checked.labels.length);
    this.mix = balance;
  }

  /** The mix of equal class shares (1) and natural frequencies (0); read when an epoch starts. */
  get balance(): number {
    return this.mix;
  }

  set balance(value: number) {
    checkUnit('balance', value);
    this.mix = value;
  }

  /** `{ balance }`: what the loader saves when an epoch starts, to resume that epoch exactly. */
  getState(): { balance: number } {
    return { balance: this.mix };
  }

  /** Restores `{ balance }` from {@link BalancedBatchSampler.getState}. @throws if `balance` is missing or not in [0, 1]. */
  setState(state: unknown): void {
    this.balance = balanceOf(state);
  }

  /** The expected rows of each class per batch with the current `balance` (a new array summing to `batchSize`). */
  classShares(): number[] {
    const classes = this.numClasses;
    return this.natural.map((frequency) => this.batchSize * (this.mix / classes + (1 - this.mix) * frequency));
  }

  /** The batches of one epoch, drawn with `rng`. */
  epochIndices(_epoch: number, rng: Rng): Int32Array[] {
    const shares = this.classShares();
    const whole = shares.map((share) => Math.floor(share + 1e-9));
    const fractions = shares.map((share, c) => Math.max(0, share - (whole[c] as number)));
    const remaining = this.batchSize - whole.reduce((sum, count) => sum + count, 0);
    const byFraction = fractions.map((_, c) => c).sort((a, b) => (fractions[b] as number) - (fractions[a] as number));
    const cycles = this.rows.map((rows) => ({ order: rng.shuffle(rows.slice()), next: 0 }));
    const take = (c: number): number => {
      const cycle = cycles[c]!;
      if (cycle.next === cycle.order.length) {
        rng.shuffle(cycle.order);
        cycle.next = 0;
      }
      return cycle.order[cycle.next++] as number;
    };
    const batches: Int32Array[] = [];
    for (let b = 0; b < this.numBatches; b++) {
      const counts = whole.slice();
      // Systematic sampling: points u, u + 1, … on the cumulative fractions; each class is hit with probability
      // equal to its fraction (< 1), and exactly `remaining` classes are hit.
      let point = rng.next();
      let cumulative = 0;
      let given = 0;
      for (let c = 0; c < this.numClasses && given < remaining; c++) {
        cumulative += fractions[c] as number;
        while (given < remaining && point < cumulative) {
          counts[c] = (counts[c] as number) + 1;
          given++;
          point += 1;
        }
      }
      for (let k = 0; given < remaining; k++, given++) {
        const c = byFraction[k % this.numClasses] as number; // float rounding left a slot: largest fraction first
        counts[c] = (counts[c] as number) + 1;
      }
      const batch = new Int32Array(this.batchSize);
      let k = 0;
      for (let c = 0; c < this.numClasses; c++) for (let i = 0; i < (counts[c] as number); i++) batch[k++] = take(c);
      batches.push(rng.shuffle(batch));
    }
    return batches;
  }

  /** `numBatches`; the loader's `batchSize` must equal the sampler's and `dropLast` does not apply. */
  length(batchSize: number, _dropLast: boolean): number {
    if (batchSize !== this.batchSize) {
      throw new Error(
        `batchSize must equal the BalancedBatchSampler's batchSize ${this.batchSize} (received ${describe(batchSize)})`
      );
    }
    return this.numBatches;
  }
}
