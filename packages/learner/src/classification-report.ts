/**
 * Pure classification statistics on label arrays: the confusion matrix and the per-class and averaged precision,
 * recall and F1 that imbalanced data needs (accuracy alone hides a model stuck at the majority class).
 * Conventions follow scikit-learn: rows of the confusion matrix are true classes, columns predicted classes; a
 * ratio with a zero denominator is 0 (`zero_division=0`); averages run over the classes that occur in the true or
 * the predicted labels.
 */

/** Precision, recall, F1 and support (number of true samples) of one class. */
export interface ClassScores {
  /** TP / (TP + FP); 0 when the class is never predicted. */
  precision: number;
  /** TP / (TP + FN); 0 when the class has no true samples. */
  recall: number;
  /** 2·precision·recall / (precision + recall); 0 when both are 0. */
  f1: number;
  /** How many samples truly belong to the class. */
  support: number;
}

/** Averaged precision, recall and F1. */
export interface AveragedScores {
  precision: number;
  recall: number;
  f1: number;
}

/** Everything {@link classificationReport} computes. Plain numbers; JSON-serialisable. */
export interface ClassificationReport {
  /** `confusion[t][p]`: samples of true class `t` predicted as `p`. */
  confusion: number[][];
  /** One entry per class index. */
  perClass: ClassScores[];
  /** Fraction of samples predicted right (NaN when there are none). */
  accuracy: number;
  /** Mean recall over the classes that have true samples (scikit-learn's `balanced_accuracy_score`). */
  balancedAccuracy: number;
  /** Unweighted mean over the classes present in the true or predicted labels. */
  macro: AveragedScores;
  /** Mean over classes weighted by support. */
  weighted: AveragedScores;
  /** Number of samples counted. */
  total: number;
}

function checkNumClasses(numClasses: unknown): asserts numClasses is number {
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`numClasses must be a positive integer (received ${String(numClasses)})`);
  }
}

function checkLabels(name: string, labels: ArrayLike<number>, numClasses: number): void {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') {
    throw new Error(`${name} must be an array of class indices (received ${String(labels)})`);
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new Error(`${name}[${i}] must be a class index in [0, ${numClasses}) (received ${String(label)})`);
    }
  }
}

/**
 * Counts how often each true class is predicted as each class.
 *
 * Why: every imbalance statistic (per-class recall, balanced accuracy, F1) derives from this table, and it shows
 * at a glance a model that predicts one class for everything.
 *
 * @param yTrue - True class indices, integers in `[0, numClasses)`.
 * @param yPred - Predicted class indices, same length.
 * @param numClasses - The number of classes (the table is `numClasses × numClasses`).
 * @returns `matrix[t][p]`, the number of samples of true class `t` predicted as `p` (scikit-learn's layout).
 * @throws if the lengths differ, a label is out of range, or `numClasses` is not a positive integer.
 *
 * @example
 * ```ts
 * import { confusionMatrix } from '@convkit/learner';
 * console.log(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2], 3)); // [[2, 0, 0], [0, 0, 1], [1, 0, 2]]
 * ```
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  checkNumClasses(numClasses);
  checkLabels('yTrue', yTrue, numClasses);
  checkLabels('yPred', yPred, numClasses);
  if (yTrue.length !== yPred.length) {
    throw new Error(`yPred must have the length of yTrue, ${yTrue.length} (received ${yPred.length})`);
  }
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const row = matrix[yTrue[i] as number] as number[];
    row[yPred[i] as number] = (row[yPred[i] as number] as number) + 1;
  }
  return matrix;
}

const ratio = (numerator: number, denominator: number): number => (denominator === 0 ? 0 : numerator / denominator);

/**
 * Derives per-class and averaged scores from a confusion matrix (as {@link confusionMatrix} returns, or one read
 * from a device accumulator).
 *
 * @param confusion - A square table of non-negative counts, `confusion[t][p]`.
 * @returns A new {@link ClassificationReport} holding a copy of `confusion`.
 * @throws if `confusion` is not square or holds a negative or non-finite count.
 *
 * @example
 * ```ts
 * import { reportFromConfusion } from '@convkit/learner';
 * const report = reportFromConfusion([[2, 0], [1, 1]]);
 * console.log(report.perClass[1].recall, report.balancedAccuracy); // 0.5 0.75
 * ```
 */
export function reportFromConfusion(confusion: readonly (readonly number[])[]): ClassificationReport {
  const size = Array.isArray(confusion) ? confusion.length : 0;
  if (size === 0 || !confusion.every((row) => Array.isArray(row) && row.length === size)) {
    throw new Error(`confusion must be a non-empty square table of counts (received ${JSON.stringify(confusion)})`);
  }
  const matrix = confusion.map((row, t) =>
    row.map((count, p) => {
      if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
        throw new Error(`confusion[${t}][${p}] must be a non-negative count (received ${String(count)})`);
      }
      return count;
    })
  );
  let total = 0;
  let correct = 0;
  const predicted = new Array<number>(size).fill(0);
  const support = matrix.map((row) => row.reduce((sum, count) => sum + count, 0));
  for (let t = 0; t < size; t++) {
    for (let p = 0; p < size; p++) predicted[p] = (predicted[p] as number) + (matrix[t]![p] as number);
    total += support[t] as number;
    correct += matrix[t]![t] as number;
  }
  const perClass = matrix.map((row, c): ClassScores => {
    const truePositives = row[c] as number;
    const precision = ratio(truePositives, predicted[c] as number);
    const recall = ratio(truePositives, support[c] as number);
    return { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support: support[c] as number };
  });
  const present = perClass.filter((_, c) => (support[c] as number) > 0 || (predicted[c] as number) > 0);
  const average = (key: keyof AveragedScores, weightOf: (scores: ClassScores) => number, over: ClassScores[]): number => {
    const weightSum = over.reduce((sum, scores) => sum + weightOf(scores), 0);
    return weightSum === 0 ? 0 : over.reduce((sum, scores) => sum + weightOf(scores) * scores[key], 0) / weightSum;
  };
  const averaged = (weightOf: (scores: ClassScores) => number): AveragedScores => ({
    precision: average('precision', weightOf, present),
    recall: average('recall', weightOf, present),
    f1: average('f1', weightOf, present),
  });
  const withSupport = perClass.filter((scores) => scores.support > 0);
  return {
    confusion: matrix,
    perClass,
    accuracy: total === 0 ? Number.NaN : correct / total,
    balancedAccuracy:
      withSupport.length === 0
        ? Number.NaN
        : withSupport.reduce((sum, scores) => sum + scores.recall, 0) / withSupport.length,
    macro: averaged(() => 1),
    weighted: averaged((scores) => scores.support),
    total,
  };
}

/**
 * Per-class precision, recall, F1 and support, their macro and support-weighted averages, accuracy and balanced
 * accuracy, from label arrays (scikit-learn's `classification_report` and `balanced_accuracy_score`).
 *
 * Why: on a 43/37/13/7 split a model that always answers the majority class scores 43% accuracy but a balanced
 * accuracy of 25% and a recall of 0 on three classes; these numbers show it.
 *
 * @param yTrue - True class indices, integers in `[0, numClasses)`.
 * @param yPred - Predicted class indices, same length.
 * @param numClasses - The number of classes.
 * @returns A new {@link ClassificationReport} (plain numbers).
 * @throws as {@link confusionMatrix}.
 *
 * @example
 * ```ts
 * import { classificationReport } from '@convkit/learner';
 * const report = classificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3);
 * console.log(report.perClass[2]); // { precision: 1, recall: 0.667, f1: 0.8, support: 3 }
 * console.log(report.macro.f1, report.weighted.f1); // 0.489 0.613
 * ```
 */
export function classificationReport(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number
): ClassificationReport {
  return reportFromConfusion(confusionMatrix(yTrue, yPred, numClasses));
}
