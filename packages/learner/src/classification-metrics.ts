import * as tf from '@tensorflow/tfjs';
import { reportFromConfusion } from './classification-report.js';
import type { ClassificationReport } from './classification-report.js';
import type { Metric } from './metrics.js';

/** The number a {@link ConfusionMatrixMetric} reports from its table. */
export type ConfusionStatistic =
  | 'balancedAccuracy'
  | 'macroF1'
  | 'weightedF1'
  | 'macroPrecision'
  | 'macroRecall'
  | 'precision'
  | 'recall'
  | 'f1';

const STATISTICS: readonly ConfusionStatistic[] = [
  'balancedAccuracy',
  'macroF1',
  'weightedF1',
  'macroPrecision',
  'macroRecall',
  'precision',
  'recall',
  'f1',
];
const PER_CLASS: ReadonlySet<ConfusionStatistic> = new Set(['precision', 'recall', 'f1']);

/** Options of {@link ConfusionMatrixMetric} and the metric factories built on it. */
export interface ConfusionMetricOptions {
  /** The class count; defaults to the last dimension of the first `pred` seen (fixed from then on). */
  numClasses?: number;
  /** The key in the history. Defaults to the statistic's name, e.g. `'macroF1'`, or `'recallClass2'` per class. */
  name?: string;
}

/** Options of {@link ConfusionMatrixMetric}: the statistic and, for a per-class statistic, the class. */
export interface ConfusionMatrixMetricOptions extends ConfusionMetricOptions {
  /** What `compute()` returns. */
  statistic: ConfusionStatistic;
  /** The class of a per-class statistic (`'precision'`, `'recall'`, `'f1'`); required for those, refused otherwise. */
  classIndex?: number;
}

/**
 * A learner {@link Metric} that accumulates the confusion matrix of an epoch on the device and reports one
 * statistic of it: balanced accuracy, macro or support-weighted F1, macro precision or recall, or one class's
 * precision, recall or F1.
 *
 * Why: with imbalanced classes plain accuracy rewards predicting the majority class; these statistics do not. The
 * per-batch `[K, K]` table is added to a kept device tensor, so training never waits on a read; `compute()` reads
 * the table once at the phase end, and {@link ConfusionMatrixMetric.report} gives every per-class value from the
 * same read. Predictions are the argmax of `pred`'s last axis (logits or probabilities); labels are one-hot/soft
 * (argmax) or class indices. Averages follow scikit-learn (see `classificationReport`).
 *
 * Options: `statistic` (required); `classIndex` (for per-class statistics); `numClasses` (defaults to `pred`'s last
 * dimension); `name` (defaults to the statistic, e.g. `'macroF1'`, or `'recallClass2'`).
 *
 * Memory: holds one `[K, K]` tensor between `update` and `reset`; `reset()` frees it. Does not keep or dispose
 * `pred` or `y`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { ConfusionMatrixMetric } from '@convkit/learner';
 * const metric = new ConfusionMatrixMetric({ statistic: 'balancedAccuracy' });
 * const pred = tf.tensor2d([[3, 0], [2, 1], [0, 1]]);
 * const y = tf.tensor1d([0, 1, 1], 'int32');
 * metric.update(pred, y);
 * console.log(await metric.compute(), metric.report()?.perClass[1].recall); // 0.75 0.5
 * tf.dispose([pred, y]);
 * metric.reset();
 * ```
 */
export class ConfusionMatrixMetric implements Metric {
  /** The key in the history. */
  readonly name: string;
  /** The statistic `compute()` returns. */
  readonly statistic: ConfusionStatistic;
  /** The class of a per-class statistic, else undefined. */
  readonly classIndex: number | undefined;
  private classes: number | undefined;
  private counts: tf.Tensor2D | undefined;
  private cached: ClassificationReport | undefined;
  private last: ClassificationReport | undefined;

  /** @throws if `statistic` is unknown, `classIndex` is missing, out of place or not a valid index, or `numClasses` is not an integer ≥ 2. */
  constructor(options: ConfusionMatrixMetricOptions) {
    const { statistic, classIndex, numClasses, name } = options ?? ({} as ConfusionMatrixMetricOptions);
    if (!STATISTICS.includes(statistic)) {
      throw new Error(`statistic must be one of ${STATISTICS.join(', ')} (received ${JSON.stringify(statistic)})`);
    }
    if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 2)) {
      throw new Error(`numClasses must be an integer >= 2 (received ${String(numClasses)})`);
    }
    if (PER_CLASS.has(statistic)) {
      if (
        typeof classIndex !== 'number' ||
        !Number.isInteger(classIndex) ||
        classIndex < 0 ||
        (numClasses !== undefined && classIndex >= numClasses)
      ) {
        const range = numClasses === undefined ? '' : ` in [0, ${numClasses})`;
        throw new Error(`classIndex must be a class index${range} for statistic '${statistic}' (received ${String(classIndex)})`);
      }
    } else if (classIndex !== undefined) {
      throw new Error(`classIndex applies only to 'precision', 'recall' and 'f1' (received ${classIndex} for '${statistic}')`);
    }
    if (name !== undefined && (typeof name !== 'string' || name === '' || name === 'loss')) {
      throw new Error(`name must be a non-empty string other than 'loss' (received ${JSON.stringify(name)})`);
    }
    this.statistic = statistic;
    this.classIndex = classIndex;
    this.classes = numClasses;
    this.name = name ?? (PER_CLASS.has(statistic) ? `${statistic}Class${classIndex}` : statistic);
  }

  /** Forgets the accumulated table and frees its tensor (the last computed report stays readable). */
  reset(): void {
    this.counts?.dispose();
    this.counts = undefined;
    this.cached = undefined;
  }

  /** Adds one batch's confusion table on the device. Does not keep or dispose `pred` or `y`. */
  update(pred: tf.Tensor, y: tf.Tensor): void {
    const classes = pred.rank >= 2 ? pred.shape[pred.rank - 1]! : 0;
    if (classes < 2) {
      throw new Error(
        `${this.name} needs class scores with a last dimension of at least 2 (received shape [${pred.shape.join(', ')}])`
      );
    }
    this.classes ??= classes;
    if (classes !== this.classes) {
      throw new Error(`${this.name}: pred must have ${this.classes} classes in its last dimension (received shape [${pred.shape.join(', ')}])`);
    }
    if (this.classIndex !== undefined && this.classIndex >= classes) {
      throw new Error(`classIndex must be a class index in [0, ${classes}) (received ${this.classIndex})`);
    }
    const numClasses = classes;
    const batch = tf.tidy(() => {
      const predicted = tf.argMax(pred, -1).flatten() as tf.Tensor1D;
      let labels: tf.Tensor;
      if (y.rank === pred.rank && tf.util.arraysEqual(y.shape, pred.shape)) labels = tf.argMax(y, -1);
      else if (y.rank === pred.rank - 1 && tf.util.arraysEqual(y.shape, pred.shape.slice(0, -1))) labels = tf.cast(y, 'int32');
      else {
        throw new Error(
          `${this.name}: labels must be one-hot with shape [${pred.shape.join(', ')}] or indices with shape ` +
            `[${pred.shape.slice(0, -1).join(', ')}] (received shape [${y.shape.join(', ')}])`
        );
      }
      // oneHot(labels)ᵀ · oneHot(predicted), in float32 (the wasm backend has no int32 matMul, which
      // tf.math.confusionMatrix needs); counts stay exact up to 2^24 per cell.
      const trueHot = tf.oneHot(tf.cast(labels.flatten(), 'int32') as tf.Tensor1D, numClasses).toFloat();
      const predictedHot = tf.oneHot(predicted, numClasses).toFloat();
      return tf.matMul(trueHot, predictedHot, true, false) as tf.Tensor2D;
    });
    // The learner may call update inside its own tf.tidy: keep the running table out of that scope.
    const previous = this.counts;
    this.counts = tf.keep(previous === undefined ? batch : (tf.add(previous, batch) as tf.Tensor2D));
    if (previous !== undefined) tf.dispose([previous, batch]);
    this.cached = undefined;
  }

  /** The statistic over the batches since `reset` (NaN when there were none). Reads the device once. */
  async compute(): Promise<number> {
    const report = await this.readReport();
    if (report === undefined) return Number.NaN;
    switch (this.statistic) {
      case 'balancedAccuracy':
        return report.balancedAccuracy;
      case 'macroF1':
        return report.macro.f1;
      case 'weightedF1':
        return report.weighted.f1;
      case 'macroPrecision':
        return report.macro.precision;
      case 'macroRecall':
        return report.macro.recall;
      default:
        return report.perClass[this.classIndex!]![this.statistic];
    }
  }

  /**
   * Every per-class and averaged value from the latest `compute()` (which reads the table once). The learner
   * computes its metrics at the end of each phase, so after `fit` this is the last phase's (usually validation's)
   * report. Undefined when nothing was ever computed. Makes no device read.
   */
  report(): ClassificationReport | undefined {
    return this.last;
  }

  /** The accumulated confusion counts (`[K][K]`, or `null` when empty) and the class count, for checkpoints. */
  async getState(): Promise<{ classes: number | null; counts: number[][] | null }> {
    return {
      classes: this.classes ?? null,
      counts: this.counts === undefined ? null : ((await this.counts.array()) as number[][]),
    };
  }

  /** Restores a state from `getState`. */
  setState(state: unknown): void {
    const saved = state as { classes?: unknown; counts?: unknown } | null;
    const counts = saved?.counts;
    const valid =
      typeof saved === 'object' &&
      saved !== null &&
      (counts === null || (Array.isArray(counts) && counts.every((row) => Array.isArray(row))));
    if (!valid) {
      throw new Error(`${this.name}: state must be { classes, counts } from getState (received ${JSON.stringify(state)})`);
    }
    this.reset();
    if (typeof saved.classes === 'number') this.classes = saved.classes;
    if (counts !== null) this.counts = tf.keep(tf.tensor2d(counts as number[][]));
  }

  private async readReport(): Promise<ClassificationReport | undefined> {
    if (this.counts === undefined) return undefined;
    this.cached ??= reportFromConfusion((await this.counts.array()) as number[][]);
    this.last = this.cached;
    return this.cached;
  }
}

/**
 * Balanced accuracy: the mean of per-class recalls over the classes present in the labels (scikit-learn's
 * `balanced_accuracy_score`). A model that always predicts one of `K` classes scores `1/K`.
 *
 * @returns A new {@link ConfusionMatrixMetric} named `'balancedAccuracy'`; it frees its tensor in `reset()`.
 * @example
 * ```ts
 * import { Learner, balancedAccuracy, macroF1 } from '@convkit/learner';
 * // new Learner({ ..., metrics: [accuracy(), balancedAccuracy(), macroF1()] })
 * ```
 */
export function balancedAccuracy(options: ConfusionMetricOptions = {}): ConfusionMatrixMetric {
  return new ConfusionMatrixMetric({ ...options, statistic: 'balancedAccuracy' });
}

/**
 * Macro F1: the unweighted mean of per-class F1 scores, so every class counts the same however rare.
 *
 * @returns A new {@link ConfusionMatrixMetric} named `'macroF1'`; it frees its tensor in `reset()`.
 * @example
 * ```ts
 * import { macroF1 } from '@convkit/learner';
 * const metric = macroF1({ numClasses: 4 });
 * ```
 */
export function macroF1(options: ConfusionMetricOptions = {}): ConfusionMatrixMetric {
  return new ConfusionMatrixMetric({ ...options, statistic: 'macroF1' });
}

/**
 * Weighted F1: per-class F1 averaged with weights equal to each class's support (its true sample count).
 *
 * @returns A new {@link ConfusionMatrixMetric} named `'weightedF1'`; it frees its tensor in `reset()`.
 * @example
 * ```ts
 * import { weightedF1 } from '@convkit/learner';
 * const metric = weightedF1();
 * ```
 */
export function weightedF1(options: ConfusionMetricOptions = {}): ConfusionMatrixMetric {
  return new ConfusionMatrixMetric({ ...options, statistic: 'weightedF1' });
}

/**
 * One class's precision, recall or F1 as a metric, e.g. the recall of the rarest class.
 *
 * @param statistic - `'precision'`, `'recall'` or `'f1'`.
 * @param classIndex - The class, an index in `[0, numClasses)`.
 * @returns A new {@link ConfusionMatrixMetric} named e.g. `'recallClass3'`; it frees its tensor in `reset()`.
 * @example
 * ```ts
 * import { classMetric } from '@convkit/learner';
 * const rareRecall = classMetric('recall', 3); // history key 'recallClass3'
 * ```
 */
export function classMetric(
  statistic: 'precision' | 'recall' | 'f1',
  classIndex: number,
  options: ConfusionMetricOptions = {}
): ConfusionMatrixMetric {
  if (!PER_CLASS.has(statistic)) {
    throw new Error(`statistic must be 'precision', 'recall' or 'f1' (received ${JSON.stringify(statistic)})`);
  }
  return new ConfusionMatrixMetric({ ...options, statistic, classIndex });
}
