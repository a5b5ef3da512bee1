/** The five learning-curve shapes of the write-ups (E2.2). */
export type CurveVerdict =
  | 'underfitting-improving'
  | 'underfitting-flat'
  | 'overfitting'
  | 'overfitting-oscillating'
  | 'good';

/** The history shape {@link learningCurveVerdict} reads (a `History` fits). */
export interface VerdictHistory {
  readonly epochs: readonly { readonly train: Record<string, number>; readonly valid: Record<string, number> }[];
}

/** Options of {@link learningCurveVerdict}. All thresholds are fractions of the span |ideal − worst value of either curve|. */
export interface LearningCurveVerdictOptions {
  /** The metric to read, in both `train` and `valid`. Defaults to `'accuracy'` when every epoch has it, else `'loss'`. */
  metric?: string;
  /** `'max'` when higher is better. Defaults to `'min'` for names ending in `loss` or `error`, else `'max'`. */
  mode?: 'min' | 'max';
  /** The best value the metric can take. Defaults to 1 for `'max'`, 0 for `'min'`. */
  ideal?: number;
  /** Epochs at the end over which the trend is fitted. Defaults to max(3, ⌈epochs / 3⌉). */
  window?: number;
  /** The training curve counts as fitted when its last value closed this fraction of the way from the worst value to `ideal`. Defaults to 0.7. */
  fitFraction?: number;
  /** A training trend steeper than this (per epoch) is still improving. Defaults to 0.005. */
  improvingSlope?: number;
  /** Validation worse than its best by more than this, while training improved, is overfitting. Defaults to 0.05. */
  worsening?: number;
  /** A final train − validation gap larger than this is overfitting. Defaults to 0.15. */
  gap?: number;
  /** Validation oscillates when its wobble over the second half of the run (Σ|moves| − |net move|) exceeds this. Defaults to 0.5. */
  oscillation?: number;
}

/** The numbers behind a verdict, in the metric's own units unless said. */
export interface CurveNumbers {
  epochs: number;
  trainFirst: number;
  trainLast: number;
  validLast: number;
  validBest: number;
  /** 0-based epoch of `validBest`. */
  validBestEpoch: number;
  /** The worst value of either curve over the run. */
  worst: number;
  /** |ideal − worst|: the unit of every fraction below. */
  span: number;
  /** Fraction of the span the training curve closed at its last epoch. */
  fitted: number;
  /** Training trend over the last `window` epochs, as a fraction of the span per epoch (positive = better). */
  trainSlope: number;
  /** Same for validation. */
  validSlope: number;
  /** (train − validation) at the last epoch as a fraction of the span (positive = train better). */
  gap: number;
  /** How much validation fell back from its best, as a fraction of the span. */
  worsening: number;
  /** Σ|validation moves| − |net validation move| over the second half of the run, as a fraction of the span: the back-and-forth. */
  wobble: number;
  /** Reversals of direction of validation over the second half of the run (for information). */
  reversals: number;
}

/** What {@link learningCurveVerdict} returns. */
export interface CurveDiagnosis {
  verdict: CurveVerdict;
  metric: string;
  mode: 'min' | 'max';
  /** The checks that decided, with their numbers, in plain words. */
  reasons: string[];
  /** What to try, as in the write-up. */
  advice: string;
  numbers: CurveNumbers;
}

const ADVICE: Readonly<Record<CurveVerdict, string>> = {
  'underfitting-improving': 'still improving: train longer, or raise the learning rate',
  'underfitting-flat': 'flat and far from fitted: use a bigger or deeper network, or check the data and the learning rate',
  overfitting: 'train improves while validation gets worse: add regularisation or augmentation, get more data, or stop earlier',
  'overfitting-oscillating': 'validation oscillates: the network became unstable; decrease the learning rate during training',
  good: 'both curves converged close together: nothing to fix',
};

function slope(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return num / den;
}

function fraction(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!(result >= 0) || !Number.isFinite(result)) {
    throw new Error(`options.${name} must be a non-negative number (received ${String(value)})`);
  }
  return result;
}

function series(history: VerdictHistory, metric: string, split: 'train' | 'valid'): number[] {
  return history.epochs.map((record, epoch) => {
    const value = record[split][metric];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const available = Object.keys(record[split]).join(', ') || 'none';
      throw new Error(
        `history.epochs[${epoch}].${split}.${metric} must be a finite number (received ${String(value)}; ` +
          `available: ${available}); the verdict needs training and validation values every epoch`
      );
    }
    return value;
  });
}

/**
 * Reads a fit's learning curves and says which of the five shapes of the write-up (E2.2) they have, with the
 * numbers behind it: `'underfitting-improving'` (still improving: train longer, raise the rate),
 * `'underfitting-flat'` (flat far from fitted: bigger network), `'overfitting'` (train improves while validation
 * gets worse), `'overfitting-oscillating'` (validation swings: lower the rate) or `'good'`.
 *
 * Rules, in this order, with every quantity a fraction of the span |ideal − worst value of either curve| on the
 * better-is-higher scale: (1) over the second half of the run, validation moves back and forth by more than
 * `oscillation` in total (Σ|moves| − |net move|) → oscillating; (2) validation fell more than `worsening` below its best while training went on
 * improving, or the final train − validation gap exceeds `gap` → overfitting; (3) training closed less than
 * `fitFraction` of the span → underfitting, improving if its trend over the last `window` epochs is steeper than
 * `improvingSlope` per epoch, flat otherwise; (4) good.
 *
 * Pure: reads numbers only. Needs at least 3 epochs with the metric in both `train` and `valid`.
 *
 * @param history - A `History` (or any `{ epochs: { train, valid }[] }`).
 * @param options - See {@link LearningCurveVerdictOptions}; the defaults suit accuracy curves.
 * @example
 * ```ts
 * import { learningCurveVerdict } from '@convkit/learner';
 * const diagnosis = learningCurveVerdict(await learner.fit(30));
 * console.log(diagnosis.verdict, diagnosis.reasons.join('; '));
 * ```
 */
export function learningCurveVerdict(
  history: VerdictHistory,
  options: LearningCurveVerdictOptions = {}
): CurveDiagnosis {
  if (!history || !Array.isArray(history.epochs)) {
    throw new Error(`history must be { epochs: EpochRecord[] } (received ${typeof history})`);
  }
  const n = history.epochs.length;
  if (n < 3) throw new Error(`history must have at least 3 epochs (received ${n})`);
  const metric =
    options.metric ?? (history.epochs.every((e) => 'accuracy' in e.train && 'accuracy' in e.valid) ? 'accuracy' : 'loss');
  const mode = options.mode ?? (/(loss|error)$/i.test(metric) ? 'min' : 'max');
  if (mode !== 'min' && mode !== 'max') throw new Error(`options.mode must be 'min' or 'max' (received ${String(mode)})`);
  const sign = mode === 'max' ? 1 : -1;
  const ideal = options.ideal ?? (mode === 'max' ? 1 : 0);
  const window = options.window ?? Math.max(3, Math.ceil(n / 3));
  if (!Number.isInteger(window) || window < 2) {
    throw new Error(`options.window must be an integer ≥ 2 (received ${String(options.window)})`);
  }
  const fitFraction = fraction('fitFraction', options.fitFraction, 0.7);
  const improvingSlope = fraction('improvingSlope', options.improvingSlope, 0.005);
  const worseningLimit = fraction('worsening', options.worsening, 0.05);
  const gapLimit = fraction('gap', options.gap, 0.15);
  const oscillation = fraction('oscillation', options.oscillation, 0.5);
  const trainRaw = series(history, metric, 'train');
  const validRaw = series(history, metric, 'valid');
  const worst = sign * Math.min(...[...trainRaw, ...validRaw].map((v) => sign * v));
  const span = Math.abs(ideal - worst) || 1;
  const train = trainRaw.map((v) => (sign * v) / span);
  const valid = validRaw.map((v) => (sign * v) / span);
  const last = n - 1;
  const bestEpoch = valid.reduce((best, v, i) => (v > valid[best]! ? i : best), 0);
  const half = Math.floor(n / 2);
  let reversals = 0;
  let direction = 0;
  let travelled = 0;
  for (let i = half + 1; i < n; i++) {
    const move = valid[i]! - valid[i - 1]!;
    travelled += Math.abs(move);
    if (move === 0) continue;
    if (direction !== 0 && Math.sign(move) !== direction) reversals++;
    direction = Math.sign(move);
  }
  const wobble = travelled - Math.abs(valid[last]! - valid[half]!);
  const numbers: CurveNumbers = {
    epochs: n,
    trainFirst: trainRaw[0]!,
    trainLast: trainRaw[last]!,
    validLast: validRaw[last]!,
    validBest: validRaw[bestEpoch]!,
    validBestEpoch: bestEpoch,
    worst,
    span,
    fitted: train[last]! - (sign * worst) / span,
    trainSlope: slope(train.slice(-window)),
    validSlope: slope(valid.slice(-window)),
    gap: train[last]! - valid[last]!,
    worsening: valid[bestEpoch]! - valid[last]!,
    wobble,
    reversals,
  };
  const f = (value: number): string => value.toFixed(3);
  const reasons: string[] = [];
  let verdict: CurveVerdict;
  if (wobble > oscillation) {
    verdict = 'overfitting-oscillating';
    reasons.push(
      `over epochs ${half}–${last} validation ${metric} moved back and forth ${f(wobble)} of the span ` +
        `(> ${oscillation}), reversing direction ${reversals} times`
    );
  } else if (
    (numbers.worsening > worseningLimit && bestEpoch < last && train[last]! >= train[bestEpoch]!) ||
    numbers.gap > gapLimit
  ) {
    verdict = 'overfitting';
    if (numbers.worsening > worseningLimit && bestEpoch < last) {
      reasons.push(
        `validation ${metric} was best at epoch ${bestEpoch} (${f(numbers.validBest)}) and fell back ` +
          `${f(numbers.worsening)} of the span to ${f(numbers.validLast)} while training went from ` +
          `${f(trainRaw[bestEpoch]!)} to ${f(numbers.trainLast)}`
      );
    }
    if (numbers.gap > gapLimit) {
      reasons.push(`final gap train ${f(numbers.trainLast)} vs validation ${f(numbers.validLast)} is ${f(numbers.gap)} of the span (> ${gapLimit})`);
    }
  } else if (numbers.fitted < fitFraction) {
    const improving = numbers.trainSlope > improvingSlope;
    verdict = improving ? 'underfitting-improving' : 'underfitting-flat';
    reasons.push(
      `training ${metric} closed ${f(numbers.fitted)} of the way from ${f(worst)} (the worst value) to ${ideal} (< ${fitFraction})`,
      `its trend over the last ${Math.min(window, n)} epochs is ${f(numbers.trainSlope)} of the span per epoch ` +
        `(${improving ? '>' : '≤'} ${improvingSlope})`
    );
  } else {
    verdict = 'good';
    reasons.push(
      `training ${metric} closed ${f(numbers.fitted)} of the way to ${ideal} (≥ ${fitFraction})`,
      `final gap ${f(numbers.gap)} of the span (≤ ${gapLimit}), validation within ${f(Math.max(0, numbers.worsening))} of its best, wobble ${f(wobble)}`
    );
  }
  return { verdict, metric, mode, reasons, advice: ADVICE[verdict], numbers };
}
