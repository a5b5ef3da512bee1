import type * as tf from '@tensorflow/tfjs';
import { CancelFit, CancelValidate, type Learner, type Plugin } from '@convkit/learner';
import { lineChart, type Chart } from '@convkit/plot';
import { hyperWriter } from './hyper-writer.js';
import { exponential } from './schedules.js';
import { assertPositive, assertPositiveInteger, describe } from './validate.js';
import { copyWeights, disposeWeights, restoreWeights } from './weights.js';

/** Options of {@link lrFind}. */
export interface LRFindOptions {
  /** The first rate. Defaults to 1e-7. */
  startLearningRate?: number;
  /** The last rate. Defaults to 10. */
  endLearningRate?: number;
  /** Steps of the sweep. Defaults to 100. */
  steps?: number;
  /** The EMA factor β of the smoothed loss. Defaults to 0.98. */
  smoothing?: number;
  /** Stop once the smoothed loss exceeds this many times its minimum (or is not finite). Defaults to 4. */
  divergenceFactor?: number;
  /** Stop on divergence at all. Defaults to true. */
  stopOnDivergence?: boolean;
}

/** The outcome of {@link lrFind}. */
export interface LRFindResult {
  /** The rate of each step taken. */
  readonly learningRates: readonly number[];
  /** The raw batch loss of each step. */
  readonly losses: readonly number[];
  /** The bias-corrected exponential moving average of the losses. */
  readonly smoothedLosses: readonly number[];
  /** Why the sweep ended: `'completed'` or the divergence. */
  readonly stopReason: string;
  /**
   * The suggested rates (see {@link suggestLearningRates}): `valley` (the default recommendation, above all for
   * fine-tuning a pretrained model, where the sweep is flat and noisy), `steepest` (the fastest fall per log-rate)
   * and `minimumDividedBy10` (the rate of the smallest loss / 10).
   */
  readonly suggestion: LRSuggestion;
  /** The smoothed loss against the rate, log x axis, as a `@convkit/plot` chart. */
  chart(title?: string): Chart;
}

/** The finder's suggested rates (NaN when the sweep is empty). */
export interface LRSuggestion {
  /** The rate a bit past the middle of the longest stretch over which the smoothed loss keeps falling (fastai "valley"). */
  readonly valley: number;
  /** The rate where the smoothed loss falls fastest per log-rate. */
  readonly steepest: number;
  /** The rate of the smallest smoothed loss, divided by 10. */
  readonly minimumDividedBy10: number;
}

/**
 * The index of the "valley" of a loss curve (fastai v2 `valley`): the longest decreasing subsequence of `losses`
 * (O(n²) dynamic programming; `length[i]` = the longest strictly decreasing subsequence ending at `i`), the first
 * index `end` where that length is largest, `start = end − length[end]` (as fastai, one before the stretch's first
 * point when it starts at 0), `s = (end − start) / 3`, and then the index `start + ⌊s⌋ + ⌊s / 2⌋` (at least 0):
 * about half-way between the first and the second third of the valley, a rate well inside the falling stretch.
 *
 * Why: on a flat, noisy sweep (fine-tuning after training the head) the steepest point and the minimum / 10 both
 * chase noise and land at tiny rates; the longest falling stretch is robust to that noise.
 *
 * @param losses - The (smoothed) losses of a sweep, in order of rising rate.
 * @returns The index into `losses`, or -1 when `losses` is empty.
 *
 * @example
 * ```ts
 * import { valleyIndex } from '@convkit/schedule';
 * valleyIndex([5, 4, 3, 2, 1, 2, 3]); // the fall ends at 4 (length 5): start −1, s = 5/3, index −1 + 1 + 0 = 0
 * ```
 */
export function valleyIndex(losses: readonly number[]): number {
  const n = losses.length;
  if (n === 0) return -1;
  const length = new Array<number>(n).fill(1);
  let end = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i]! < losses[j]! && length[i]! < length[j]! + 1) length[i] = length[j]! + 1;
    }
    if (length[end]! < length[i]!) end = i;
  }
  const start = end - length[end]!;
  const sections = (end - start) / 3;
  return Math.max(0, start + Math.floor(sections) + Math.floor(sections / 2));
}

/**
 * The rates a finder sweep uses: `rate(i) = start · (end / start)^(i / (steps − 1))`.
 *
 * @example
 * ```ts
 * import { finderRates } from '@convkit/schedule';
 * finderRates(1e-7, 10, 9); // [1e-7, 1e-6, …, 10]
 * ```
 */
export function finderRates(start: number, end: number, steps: number): number[] {
  const curve = exponential(start, end);
  return Array.from({ length: steps }, (_, i) => curve(steps === 1 ? 0 : i / (steps - 1)));
}

/**
 * The finder's suggestions from a sweep (fastai v2): drop the first tenth of the points and the last 5 (when at
 * least 3 remain), then
 * - `valley` = the rate at {@link valleyIndex} of the kept smoothed losses: the default recommendation, and the one
 *   to use for fine-tuning a pretrained model (flat, noisy sweeps), where the other two land orders of magnitude
 *   too low;
 * - `steepest` = the rate where `(loss[i+1] − loss[i]) / (ln rate[i+1] − ln rate[i])` is most negative: fine on a
 *   clean sweep from scratch, but it follows noise;
 * - `minimumDividedBy10` = the rate of the smallest smoothed loss / 10: a conservative upper bound.
 *
 * All three are NaN when no points are kept.
 *
 * @example
 * ```ts
 * import { suggestLearningRates } from '@convkit/schedule';
 * suggestLearningRates([1e-4, 1e-3, 1e-2, 1e-1], [2.3, 2.0, 1.0, 3.0]); // valley 1e-4, steepest 1e-3, minimum/10 1e-3
 * ```
 */
export function suggestLearningRates(rates: readonly number[], smoothed: readonly number[]): LRSuggestion {
  const skipStart = Math.floor(rates.length / 10);
  const keep = rates.length - skipStart - 5 >= 3 ? [skipStart, rates.length - 5] : [0, rates.length];
  const r = rates.slice(keep[0], keep[1]);
  const l = smoothed.slice(keep[0], keep[1]);
  if (r.length === 0) return { valley: NaN, steepest: NaN, minimumDividedBy10: NaN };
  let minimum = 0;
  l.forEach((value, i) => {
    if (value < l[minimum]!) minimum = i;
  });
  let steepest = 0;
  let slope = Infinity;
  for (let i = 0; i + 1 < r.length; i++) {
    const g = (l[i + 1]! - l[i]!) / (Math.log(r[i + 1]!) - Math.log(r[i]!));
    if (g < slope) {
      slope = g;
      steepest = i;
    }
  }
  return { valley: r[valleyIndex(l)]!, steepest: r[steepest]!, minimumDividedBy10: r[minimum]! / 10 };
}

/**
 * The learning-rate range test (Smith 2015; fastai `lr_find`): trains with rates rising exponentially from
 * `startLearningRate` to `endLearningRate` over `steps` steps, records the loss smoothed as
 * `avg_i = β · avg_{i−1} + (1 − β) · loss_i`, `smooth_i = avg_i / (1 − β^(i+1))`, stops when the smoothed loss
 * exceeds `divergenceFactor` × its minimum or is not finite, then puts back the model's weights, the optimizer's
 * state (when it has `getState`/`setState`) and its rate. Validation is skipped during the sweep.
 *
 * With parameter groups the swept rate is group 0's; the other groups move with it, keeping their ratio to group 0
 * at the start, and every group's rate is put back after.
 *
 * The learner's own plugins that write hyperparameters (schedulers) are set aside during the sweep and put back
 * after, in their order. The sweep counts in `learner.stepCount`, and `learner.history` becomes the sweep's.
 *
 * Ownership: the copies of the weights are made and disposed here; the result holds plain numbers.
 *
 * @param learner - A learner whose training source gives the batches.
 * @param options - `startLearningRate` (1e-7), `endLearningRate` (10), `steps` (100), `smoothing` (0.98),
 *   `divergenceFactor` (4), `stopOnDivergence` (true).
 * @returns The sweep and its suggestions (`valley` is the default recommendation, see {@link suggestLearningRates});
 *   `result.chart()` draws it.
 *
 * @example
 * ```ts
 * import { lrFind } from '@convkit/schedule';
 * const found = await lrFind(learner, { steps: 100 });
 * console.log(found.suggestion.valley); // the default choice; also .steepest and .minimumDividedBy10
 * // display(found.chart(), tslab.display)
 * ```
 */
export async function lrFind(learner: Learner, options: LRFindOptions = {}): Promise<LRFindResult> {
  const {
    startLearningRate = 1e-7,
    endLearningRate = 10,
    steps = 100,
    smoothing = 0.98,
    divergenceFactor = 4,
    stopOnDivergence = true,
  } = options;
  assertPositive('startLearningRate', startLearningRate);
  assertPositive('endLearningRate', endLearningRate);
  if (endLearningRate <= startLearningRate) {
    throw new Error(`endLearningRate must be above startLearningRate (received ${endLearningRate} <= ${startLearningRate})`);
  }
  assertPositiveInteger('steps', steps);
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`smoothing must be in [0, 1) (received ${describe(smoothing)})`);
  assertPositive('divergenceFactor', divergenceFactor);
  const rates = finderRates(startLearningRate, endLearningRate, steps);
  const used: number[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let stopReason = 'completed';
  let average = 0;
  let best = Infinity;
  const writer = { current: undefined as ReturnType<typeof hyperWriter> | undefined, ratios: [1] };
  const sweep: Plugin = {
    name: 'lrFinder',
    order: 10,
    writes: ['hyper.learningRate'],
    beforeFit(ctx) {
      writer.current = hyperWriter(ctx.optimizer, 'learningRate');
      const start = writer.current.read();
      writer.ratios = start.map((rate) => (start[0]! > 0 ? rate / start[0]! : 1));
    },
    beforeBatch(ctx) {
      writer.current!.write(writer.ratios.map((ratio) => ratio * rates[ctx.fitStep]!));
    },
    async afterBatch(ctx) {
      const loss = await ctx.lossValue();
      const i = losses.length;
      used.push(rates[ctx.fitStep]!);
      losses.push(loss);
      average = smoothing * average + (1 - smoothing) * loss;
      const smooth = average / (1 - Math.pow(smoothing, i + 1));
      smoothed.push(smooth);
      best = Math.min(best, smooth);
      if (stopOnDivergence && (!Number.isFinite(smooth) || smooth > divergenceFactor * best)) {
        stopReason = `diverged at rate ${rates[ctx.fitStep]} (smoothed loss ${smooth} > ${divergenceFactor} × ${best})`;
        throw new CancelFit(stopReason);
      }
      if (losses.length >= steps) throw new CancelFit('completed');
    },
    beforeValidate() {
      throw new CancelValidate('lrFind skips validation');
    },
  };
  const own = learner.plugins;
  const kept = own.filter((p) => !(p.writes ?? []).some((target) => target.startsWith('hyper.')));
  const epochs = learner.train.length === undefined ? steps : Math.ceil(steps / learner.train.length);
  const savedRates = hyperWriter(learner.optimizer, 'learningRate').read();
  const savedState = await learner.optimizer.getState?.();
  const savedWeights: tf.Tensor[] = copyWeights(learner.model);
  for (const p of own) learner.removePlugin(p.name);
  for (const p of kept) learner.addPlugin(p);
  try {
    const history = await learner.fit(epochs, { plugins: [sweep] });
    if (history.stopReason?.startsWith('error')) throw new Error(`lrFind: the sweep failed: ${history.stopReason}`);
  } finally {
    for (const p of kept) learner.removePlugin(p.name);
    for (const p of own) learner.addPlugin(p);
    restoreWeights(learner.model, savedWeights);
    disposeWeights(savedWeights);
    if (savedState !== undefined) await learner.optimizer.setState!(savedState);
    hyperWriter(learner.optimizer, 'learningRate').write(savedRates);
  }
  const suggestion = suggestLearningRates(used, smoothed);
  return {
    learningRates: used,
    losses,
    smoothedLosses: smoothed,
    stopReason,
    suggestion,
    chart: (title = 'LR finder') =>
      lineChart({
        data: used.map((x, i) => ({ x, y: smoothed[i]! })),
        x: { title: 'learning rate', log: true },
        y: { title: 'smoothed loss' },
        title,
      }),
  };
}
