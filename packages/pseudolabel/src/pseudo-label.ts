import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '@convkit/data';
import { checkNonNegativeInteger, checkThreshold, describeValue } from './check.js';
import {
  predictProbabilities,
  type Probabilities,
  type PredictOptions,
  type PseudoLabelModel,
} from './predict-probabilities.js';

/** How to filter predictions: the confidence threshold, per-class caps, and optional true labels for evaluation. */
export interface SelectOptions {
  /** Keep a prediction when its largest class probability is ≥ `threshold`, a number in [0, 1]. Defaults to 0.9. */
  threshold?: number;
  /** Keep at most this many per predicted class (the most confident first). Defaults to no cap. */
  maxPerClass?: number;
  /** Cap every class at the smallest kept count among the classes that kept any, so pseudo-labels are class-balanced. Defaults to false. */
  balance?: boolean;
  /** The true labels of the unlabeled images, for evaluation only (fills `summary.accuracy`); never used to select. Defaults to none. */
  trueLabels?: ArrayLike<number>;
}

/** Options of {@link pseudoLabel}: prediction ({@link PredictOptions}) and selection ({@link SelectOptions}). */
export interface PseudoLabelOptions extends PredictOptions, SelectOptions {}

/** Counts and quality of one labeling pass. */
export interface PseudoLabelSummary {
  /** Images predicted. */
  total: number;
  /** Images kept. */
  kept: number;
  /** The threshold used. */
  threshold: number;
  /** Kept images per class. */
  keptPerClass: number[];
  /** Argmax predictions per class over all images, before filtering. */
  predictedPerClass: number[];
  /** Mean confidence of the kept images (0 when none is kept). */
  meanConfidence: number;
  /** Share of kept pseudo-labels equal to `trueLabels` (NaN when none is kept); only when `trueLabels` is given. */
  accuracy?: number;
  /** Share of all argmax predictions equal to `trueLabels` (no filtering); only when `trueLabels` is given. */
  accuracyAll?: number;
}

/** The pseudo-labels kept by {@link pseudoLabel}: plain arrays, nothing to dispose. */
export interface PseudoLabels {
  /** Positions of the kept images in the unlabeled set, ascending. */
  indices: Int32Array;
  /** The pseudo-label (argmax class) of each kept image. */
  labels: Int32Array;
  /** The probability of that class (the confidence) of each kept image. */
  confidences: Float32Array;
  /** Number of classes of the model's output. */
  numClasses: number;
  /** Counts per class, and accuracy when true labels were given. */
  summary: PseudoLabelSummary;
}

function checkSelectOptions(options: SelectOptions, length: number): Required<Pick<SelectOptions, 'threshold' | 'balance'>> {
  const { threshold = 0.9, maxPerClass, balance = false, trueLabels } = options;
  checkThreshold(threshold);
  if (maxPerClass !== undefined) checkNonNegativeInteger(maxPerClass, 'maxPerClass');
  if (typeof balance !== 'boolean') throw new Error(`balance must be a boolean (received ${describeValue(balance)})`);
  if (trueLabels !== undefined && (typeof trueLabels !== 'object' || trueLabels === null || trueLabels.length !== length)) {
    throw new Error(
      `trueLabels must hold one label per image (${length}) (received ${describeValue(trueLabels)}` +
        `${typeof trueLabels === 'object' && trueLabels !== null ? ` of length ${trueLabels.length}` : ''})`
    );
  }
  return { threshold, balance };
}

/**
 * The selection options of a multi-round API (`threshold`, `maxPerClass`, `balance` of `options`, with the pool's true
 * labels for evaluation), checked against a pool of `length` images so that a bad option fails before any training.
 */
export function poolSelectOptions(options: SelectOptions, trueLabels: ArrayLike<number> | undefined, length: number): SelectOptions {
  const select: SelectOptions = {
    threshold: options.threshold ?? 0.9,
    ...(options.maxPerClass !== undefined ? { maxPerClass: options.maxPerClass } : {}),
    ...(options.balance !== undefined ? { balance: options.balance } : {}),
    ...(trueLabels !== undefined ? { trueLabels } : {}),
  };
  checkSelectOptions(select, length);
  return select;
}

/**
 * Filters class probabilities into pseudo-labels: argmax class and its probability per image, kept when the
 * probability is ≥ `threshold`, then capped per class (`maxPerClass`, `balance`) keeping the most confident
 * (ties: the lower index). The pure half of {@link pseudoLabel}, for probabilities computed elsewhere.
 *
 * @example
 * ```ts
 * const probabilities = { values: Float32Array.of(0.95, 0.05, 0.4, 0.6), length: 2, numClasses: 2 };
 * selectConfident(probabilities, { threshold: 0.9 }).labels; // Int32Array [0]
 * ```
 */
export function selectConfident(probabilities: Probabilities, options: SelectOptions = {}): PseudoLabels {
  const { values, length, numClasses } = probabilities;
  if (!(values instanceof Float32Array) || values.length !== length * numClasses || numClasses < 1) {
    throw new Error(
      `probabilities must be { values, length, numClasses } with values.length = length × numClasses ` +
        `(received ${describeValue(values)} for ${length} × ${numClasses})`
    );
  }
  const { threshold, balance } = checkSelectOptions(options, length);
  const cut = Math.fround(threshold); // probabilities are float32: 0.9 must keep a stored 0.9
  const predicted = new Int32Array(length);
  const confidence = new Float32Array(length);
  const predictedPerClass = new Array<number>(numClasses).fill(0);
  const candidates: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < length; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (values[i * numClasses + k]! > values[i * numClasses + best]!) best = k;
    predicted[i] = best;
    confidence[i] = values[i * numClasses + best]!;
    predictedPerClass[best]!++;
    if (confidence[i]! >= cut) candidates[best]!.push(i);
  }
  let cap = options.maxPerClass ?? Infinity;
  if (balance) {
    const nonEmpty = candidates.map((c) => c.length).filter((n) => n > 0);
    if (nonEmpty.length > 0) cap = Math.min(cap, ...nonEmpty);
  }
  const kept: number[] = [];
  for (const list of candidates) {
    if (list.length > cap) list.sort((a, b) => confidence[b]! - confidence[a]! || a - b);
    kept.push(...list.slice(0, Math.min(list.length, cap)));
  }
  kept.sort((a, b) => a - b);
  const indices = Int32Array.from(kept);
  const labels = Int32Array.from(kept, (i) => predicted[i]!);
  const confidences = Float32Array.from(kept, (i) => confidence[i]!);
  const keptPerClass = new Array<number>(numClasses).fill(0);
  for (const label of labels) keptPerClass[label]!++;
  const summary: PseudoLabelSummary = {
    total: length,
    kept: kept.length,
    threshold,
    keptPerClass,
    predictedPerClass,
    meanConfidence: kept.length === 0 ? 0 : confidences.reduce((s, c) => s + c, 0) / kept.length,
  };
  const truth = options.trueLabels;
  if (truth !== undefined) {
    let right = 0;
    for (let j = 0; j < kept.length; j++) if (truth[kept[j]!] === labels[j]) right++;
    summary.accuracy = kept.length === 0 ? NaN : right / kept.length;
    let rightAll = 0;
    for (let i = 0; i < length; i++) if (truth[i] === predicted[i]) rightAll++;
    summary.accuracyAll = rightAll / length;
  }
  return { indices, labels, confidences, numClasses, summary };
}

/**
 * Labels an unlabeled set with a model or an ensemble and keeps the confident predictions.
 *
 * Why: pseudolabeling (train → predict the unlabeled set → drop low-confidence labels → add them to the training
 * set → retrain) turns a large unlabeled pool into extra training data; the threshold trades how many labels are
 * kept against how many are wrong. An ensemble averages softmax probabilities: p = Σₘ pₘ / M; an image is kept when
 * maxₖ pₖ ≥ `threshold`, with label argmaxₖ pₖ.
 *
 * Options:
 * - `threshold`: confidence to keep, in [0, 1]. Defaults to 0.9.
 * - `maxPerClass`: at most this many per class, most confident first. Defaults to no cap.
 * - `balance`: cap each class at the smallest non-zero kept count. Defaults to false.
 * - `trueLabels`: for evaluation only (`summary.accuracy`). Defaults to none.
 * - `output`: `'logits'` or `'probabilities'`. Defaults to `'logits'`.
 * - `predict`: a custom `(model, x) => tensor`, e.g. test-time augmentation from `@convkit/tta`. Defaults to the
 *   plain forward pass.
 * - `batchSize`: images per forward pass. Defaults to 256.
 * - `encoding`: `scale`/`mean`/`std` for a dataset, as its `DataLoader`. Defaults to `scale: 1/255`.
 *
 * `images` is a `Dataset` of `@convkit/data`, in memory or streamed from files (`streamImageFolder`), read one batch at
 * a time (see `predictProbabilities`), or a float tensor `[N, H, W, C]`. With the same models and options, an in-memory
 * dataset and a streaming one of the same folder give bit-identical pseudo-labels and confidences.
 *
 * Returns plain arrays (nothing to dispose). Does not dispose `images` or the models.
 *
 * @example
 * ```ts
 * import { pseudoLabel } from '@convkit/pseudolabel';
 * const pseudo = await pseudoLabel([modelA, modelB], unlabeled, { threshold: 0.95, trueLabels: unlabeled.labels });
 * console.log(pseudo.summary.kept, pseudo.summary.keptPerClass, pseudo.summary.accuracy);
 * ```
 */
export async function pseudoLabel(
  models: PseudoLabelModel | readonly PseudoLabelModel[],
  images: Dataset | tf.Tensor4D,
  options: PseudoLabelOptions = {}
): Promise<PseudoLabels> {
  if (images !== null && typeof images === 'object') {
    const length = images instanceof tf.Tensor ? images.shape[0] : images.length;
    checkSelectOptions(options, length); // fail before the forward passes
  }
  const probabilities = await predictProbabilities(models, images, options);
  return selectConfident(probabilities, options);
}
