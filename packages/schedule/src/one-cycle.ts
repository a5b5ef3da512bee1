import { groupCountOf, perGroup } from './hyper-writer.js';
import { assertRates } from './lr-schedulers.js';
import { createScheduler, requireTotal, schedulerBase, type ParamSchedulerPlugin } from './param-scheduler.js';
import type { IndexSchedule } from './step-schedules.js';
import { assertFinite, assertNonNegative, assertOneOf, assertPositive, assertPositiveInteger, describe } from './validate.js';

/** Which hyperparameter a scheduler cycles opposite to the rate: SGD's `momentum`, Adam's `beta1`, or none. */
export type MomentumHyper = 'momentum' | 'beta1' | false;

/** The one-cycle curve's settings (torch `OneCycleLR`'s arguments). */
export interface OneCycleScheduleOptions {
  /** The peak learning rate (> 0). */
  maxLearningRate: number;
  /** Steps of the cycle (torch `total_steps`). */
  totalSteps: number;
  /** Fraction of the steps spent rising (torch `pct_start`). Defaults to 0.3. */
  pctStart?: number;
  /** `'cos'` or `'linear'` interpolation in each phase. Defaults to `'cos'`. */
  annealStrategy?: 'cos' | 'linear';
  /** The start rate is `maxLearningRate / divFactor`. Defaults to 25. */
  divFactor?: number;
  /** The final rate is the start rate / `finalDivFactor`. Defaults to 1e4. */
  finalDivFactor?: number;
  /** Momentum at the rate's peak. Defaults to 0.85. */
  baseMomentum?: number;
  /** Momentum at the start and the end. Defaults to 0.95. */
  maxMomentum?: number;
  /** torch's three-phase variant (rise, fall back to the start rate, then anneal to the final rate). Defaults to false. */
  threePhase?: boolean;
}

interface Phase {
  end: number;
  rate: [number, number];
  momentum: [number, number];
}

/**
 * The one-cycle curves as pure functions of the step, exactly torch `OneCycleLR`: with initial = max / divFactor
 * and final = initial / finalDivFactor, the rate rises from initial to max over the first `pctStart · totalSteps − 1`
 * steps, then anneals to final at step `totalSteps − 1`; momentum moves the opposite way (max → base → max). In a
 * phase from step a to b, `pct = (t − a) / (b − a)` and `cos` anneals as `end + (start − end) · (1 + cos(π pct)) / 2`.
 *
 * @returns `{ learningRate, momentum }` index schedules.
 *
 * @example
 * ```ts
 * import { oneCycleSchedules } from '@convkit/schedule';
 * const { learningRate } = oneCycleSchedules({ maxLearningRate: 0.1, totalSteps: 100 });
 * [learningRate(0), learningRate(29), learningRate(99)]; // [0.004, 0.1, 4e-7]
 * ```
 */
export function oneCycleSchedules(options: OneCycleScheduleOptions): { learningRate: IndexSchedule; momentum: IndexSchedule } {
  const {
    maxLearningRate,
    totalSteps,
    pctStart = 0.3,
    annealStrategy = 'cos',
    divFactor = 25,
    finalDivFactor = 1e4,
    baseMomentum = 0.85,
    maxMomentum = 0.95,
    threePhase = false,
  } = options;
  assertPositive('maxLearningRate', maxLearningRate);
  assertPositiveInteger('totalSteps', totalSteps);
  assertFinite('pctStart', pctStart);
  if (pctStart <= 0 || pctStart >= 1) throw new Error(`pctStart must be in (0, 1) (received ${describe(pctStart)})`);
  assertOneOf('annealStrategy', annealStrategy, ['cos', 'linear']);
  assertPositive('divFactor', divFactor);
  assertPositive('finalDivFactor', finalDivFactor);
  assertNonNegative('baseMomentum', baseMomentum);
  assertNonNegative('maxMomentum', maxMomentum);
  const initial = maxLearningRate / divFactor;
  const final = initial / finalDivFactor;
  const rise = pctStart * totalSteps - 1;
  const phases: Phase[] = threePhase
    ? [
        { end: rise, rate: [initial, maxLearningRate], momentum: [maxMomentum, baseMomentum] },
        { end: 2 * pctStart * totalSteps - 2, rate: [maxLearningRate, initial], momentum: [baseMomentum, maxMomentum] },
        { end: totalSteps - 1, rate: [initial, final], momentum: [maxMomentum, maxMomentum] },
      ]
    : [
        { end: rise, rate: [initial, maxLearningRate], momentum: [maxMomentum, baseMomentum] },
        { end: totalSteps - 1, rate: [maxLearningRate, final], momentum: [baseMomentum, maxMomentum] },
      ];
  const anneal =
    annealStrategy === 'cos'
      ? (start: number, end: number, pct: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (start: number, end: number, pct: number) => (end - start) * pct + start;
  const at = (t: number, pick: (phase: Phase) => [number, number]): number => {
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i]!;
      if (t <= phase.end || i === phases.length - 1) {
        const [from, to] = pick(phase);
        return anneal(from, to, (t - start) / (phase.end - start));
      }
      start = phase.end;
    }
    throw new Error('unreachable');
  };
  return { learningRate: (t) => at(t, (p) => p.rate), momentum: (t) => at(t, (p) => p.momentum) };
}

/** Options of {@link oneCycle}. */
export interface OneCycleOptions extends Omit<OneCycleScheduleOptions, 'totalSteps' | 'maxLearningRate' | 'baseMomentum' | 'maxMomentum'> {
  /**
   * The peak learning rate (> 0): one number, the same peak for every parameter group (torch `OneCycleLR`'s float
   * `max_lr`), or one per group (its list), e.g. `[1e-4, 1e-3]` for a backbone and a head.
   */
  maxLearningRate: number | readonly number[];
  /** Momentum at the rate's peak: one number for every group, or one per group. Defaults to 0.85. */
  baseMomentum?: number | readonly number[];
  /** Momentum at the start and the end: one number for every group, or one per group. Defaults to 0.95. */
  maxMomentum?: number | readonly number[];
  /** Steps of the cycle. Defaults to the fit's steps (epochs × batches per epoch). */
  totalSteps?: number;
  /** The hyperparameter cycled opposite to the rate (`'beta1'` for Adam, false for plain SGD). Defaults to `'momentum'`. */
  cycleMomentum?: MomentumHyper;
  /** The plugin name. Defaults to `'oneCycle'`. */
  name?: string;
  /** The plugin order. Defaults to 10. */
  order?: number;
  /** Settles a write shared with another plugin. Defaults to none. */
  priority?: number;
}

/**
 * One-cycle training (Smith 2018; fastai `fit_one_cycle`), matching torch `OneCycleLR` step by step: the rate
 * warms up from `maxLearningRate / divFactor` to `maxLearningRate` with cosine annealing, then anneals to
 * `maxLearningRate / divFactor / finalDivFactor`, while momentum (or Adam's `beta1`) does the inverse
 * (see {@link oneCycleSchedules} for the formula). Built on {@link paramScheduler}.
 *
 * Parameter groups, as torch: each group follows its own curve from its own `maxLearningRate` (and momenta) when
 * they are arrays; one number gives every group the same curve (so pass an array to keep discriminative rates).
 *
 * Why: a short high-rate phase regularises and speeds training; lowering momentum while the rate is high keeps the
 * effective step bounded.
 *
 * @param options - `maxLearningRate`; `totalSteps` (defaults to the fit's steps), `pctStart` (0.3),
 *   `annealStrategy` (`'cos'`), `divFactor` (25), `finalDivFactor` (1e4), `baseMomentum` (0.85), `maxMomentum`
 *   (0.95), `threePhase` (false), `cycleMomentum` (`'momentum'`), `name`, `order` (10), `priority`.
 * @returns A scheduler plugin writing `hyper.learningRate` (and the momentum hyperparameter); it makes no tensors.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { oneCycle } from '@convkit/schedule';
 * // new Learner({ …, optimizer: tf.train.momentum(0.01, 0.9), plugins: [oneCycle({ maxLearningRate: 0.1 })] })
 * ```
 */
export function oneCycle(options: OneCycleOptions): ParamSchedulerPlugin {
  const { totalSteps, cycleMomentum = 'momentum', maxLearningRate, baseMomentum = 0.85, maxMomentum = 0.95, ...curve } = options;
  assertRates('maxLearningRate', maxLearningRate, true);
  assertRates('baseMomentum', baseMomentum);
  assertRates('maxMomentum', maxMomentum);
  const first = (value: number | readonly number[]): number => (typeof value === 'number' ? value : value[0]!);
  oneCycleSchedules({
    ...curve,
    maxLearningRate: first(maxLearningRate),
    baseMomentum: first(baseMomentum),
    maxMomentum: first(maxMomentum),
    totalSteps: totalSteps ?? 10,
  });
  if (cycleMomentum !== false) assertOneOf('cycleMomentum', cycleMomentum, ['momentum', 'beta1']);
  const common = schedulerBase({ name: options.name, order: options.order, priority: options.priority, input: 'index' } as never, 'oneCycle');
  const keys = cycleMomentum === false ? ['learningRate'] : ['learningRate', cycleMomentum];
  return createScheduler({
    ...common,
    keys,
    resolve: (ctx, total) => {
      const count = groupCountOf(ctx.optimizer);
      const peaks = perGroup('maxLearningRate', maxLearningRate, count);
      const lows = perGroup('baseMomentum', baseMomentum, count);
      const highs = perGroup('maxMomentum', maxMomentum, count);
      const steps = totalSteps ?? requireTotal(total, common.name);
      const groups = peaks.map((peak, g) =>
        oneCycleSchedules({ ...curve, maxLearningRate: peak, baseMomentum: lows[g]!, maxMomentum: highs[g]!, totalSteps: steps })
      );
      const learningRate = groups.map((group) => group.learningRate);
      return cycleMomentum === false ? { learningRate } : { learningRate, [cycleMomentum]: groups.map((group) => group.momentum) };
    },
  });
}
