import { groupCountOf, perGroup } from './hyper-writer.js';
import { assertRates } from './lr-schedulers.js';
import { createScheduler, schedulerBase, type ParamSchedulerPlugin } from './param-scheduler.js';
import type { MomentumHyper } from './one-cycle.js';
import { cyclic, type CyclicMode } from './step-schedules.js';
import { assertOneOf } from './validate.js';
import type { ScheduleUnit } from './param-scheduler.js';

/** Options of {@link cyclicLR}. */
export interface CyclicLROptions {
  /** The lower bound of the rate (torch `base_lr`; a number, or one per parameter group); e.g. 1–2 orders below the finder's pick. */
  baseLearningRate: number | readonly number[];
  /** The upper bound of the rate (torch `max_lr`; a number, or one per parameter group), e.g. the LR finder's suggestion. */
  maxLearningRate: number | readonly number[];
  /** Steps from the lower to the upper bound. Defaults to 2000. */
  stepSizeUp?: number;
  /** Steps back down. Defaults to `stepSizeUp`. */
  stepSizeDown?: number;
  /** `'triangular'`, `'triangular2'` (amplitude halves each cycle) or `'expRange'` (× gamma^step). Defaults to `'triangular'`. */
  mode?: CyclicMode;
  /** The per-step factor of `'expRange'`. Defaults to 1. */
  gamma?: number;
  /** The hyperparameter cycled opposite to the rate, or false. Defaults to `'momentum'` (torch `cycle_momentum`). */
  cycleMomentum?: MomentumHyper;
  /** Momentum at the rate's peak (a number, or one per group). Defaults to 0.8. */
  baseMomentum?: number | readonly number[];
  /** Momentum at the rate's low (a number, or one per group). Defaults to 0.9. */
  maxMomentum?: number | readonly number[];
  /** What one index counts. Defaults to `'step'`. */
  unit?: ScheduleUnit;
  /** The plugin name. Defaults to `'cyclicLR'`. */
  name?: string;
  /** The plugin order. Defaults to 10. */
  order?: number;
  /** Settles a write shared with another plugin. Defaults to none. */
  priority?: number;
}

/**
 * Cyclical learning rates (Smith 2017), matching torch `CyclicLR` step by step: the rate moves between
 * `baseLearningRate` and `maxLearningRate` in triangles (see {@link cyclic} for the formula), and momentum between
 * `maxMomentum` and `baseMomentum` the opposite way: `m(t) = maxMomentum − (maxMomentum − baseMomentum) · s · scale`.
 *
 * Why: sweeping the rate lets training escape saddle points without tuning a decay; the LR finder gives the bounds.
 *
 * Parameter groups, as torch: a bound given as an array (one value per group) gives each group its own cycle; a
 * number is the same bound for every group.
 *
 * @param options - The bounds; `stepSizeUp` (2000), `stepSizeDown`, `mode` (`'triangular'`), `gamma` (1),
 *   `cycleMomentum` (`'momentum'`), `baseMomentum` (0.8), `maxMomentum` (0.9), `unit`, `name`, `order`, `priority`.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { cyclicLR } from '@convkit/schedule';
 * const plugins = [cyclicLR({ baseLearningRate: 1e-4, maxLearningRate: 1e-2, stepSizeUp: 500, mode: 'triangular2', cycleMomentum: false })];
 * ```
 */
export function cyclicLR(options: CyclicLROptions): ParamSchedulerPlugin {
  const {
    baseLearningRate,
    maxLearningRate,
    stepSizeUp = 2000,
    stepSizeDown,
    mode = 'triangular',
    gamma = 1,
    cycleMomentum = 'momentum',
    baseMomentum = 0.8,
    maxMomentum = 0.9,
  } = options;
  assertRates('baseLearningRate', baseLearningRate);
  assertRates('maxLearningRate', maxLearningRate, true);
  assertRates('baseMomentum', baseMomentum);
  assertRates('maxMomentum', maxMomentum);
  if (cycleMomentum !== false) assertOneOf('cycleMomentum', cycleMomentum, ['momentum', 'beta1']);
  const shape = { stepSizeUp, ...(stepSizeDown === undefined ? {} : { stepSizeDown }), mode, gamma };
  cyclic({ low: 0, high: 1, ...shape });
  const common = schedulerBase(
    { unit: options.unit, name: options.name, order: options.order, priority: options.priority, input: 'index' } as never,
    'cyclicLR'
  );
  return createScheduler({
    ...common,
    keys: cycleMomentum === false ? ['learningRate'] : ['learningRate', cycleMomentum],
    resolve: (ctx) => {
      const count = groupCountOf(ctx.optimizer);
      const lows = perGroup('baseLearningRate', baseLearningRate, count);
      const highs = perGroup('maxLearningRate', maxLearningRate, count);
      const momentumHighs = perGroup('maxMomentum', maxMomentum, count);
      const momentumLows = perGroup('baseMomentum', baseMomentum, count);
      const learningRate = lows.map((low, g) => cyclic({ low, high: highs[g]!, ...shape }));
      if (cycleMomentum === false) return { learningRate };
      return { learningRate, [cycleMomentum]: momentumHighs.map((low, g) => cyclic({ low, high: momentumLows[g]!, ...shape })) };
    },
  });
}
