import type { LoopContext } from '@convkit/learner';
import { groupCountOf, hyperWriter, perGroup } from './hyper-writer.js';
import { createScheduler, schedulerBase, requireTotal, type ParamSchedulerPlugin, type ScheduleUnit } from './param-scheduler.js';
import { cosine, linear } from './schedules.js';
import { cosineWarmRestarts, exponentialDecay, multiStep, stepDecay, type IndexSchedule } from './step-schedules.js';
import { assertFunction, assertNonNegative, assertPositiveInteger, assertFinite, assertPositive } from './validate.js';

/** Options shared by the learning-rate schedulers. */
export interface LearningRateSchedulerOptions {
  /**
   * The base rate the schedule starts from (torch `base_lr`): one number for every parameter group, or one per
   * group. Defaults to each group's own `learningRate` at the first fit (torch `base_lrs`), remembered for later
   * fits (so a second fit repeats the schedule instead of starting where the last one ended). Each group follows
   * the schedule from its own base, so discriminative rates keep their ratios.
   */
  learningRate?: number | readonly number[];
  /** What one index counts: optimizer steps or epochs. Defaults to `'step'`. */
  unit?: ScheduleUnit;
  /** The plugin name. Defaults to the factory's name. */
  name?: string;
  /** The plugin order. Defaults to 10. */
  order?: number;
  /** Settles a write shared with another plugin. Defaults to none. */
  priority?: number;
}

/** Throws unless `value` is a number ≥ 0 (> 0 with `positive`) or a non-empty array of them, one per parameter group. */
export function assertRates(name: string, value: unknown, positive: boolean = false): asserts value is number | readonly number[] {
  const check = (label: string, entry: unknown): void => (positive ? assertPositive(label, entry) : assertNonNegative(label, entry));
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error(`${name} must be a number or a non-empty array of numbers, one per group (received [])`);
    value.forEach((entry, group) => check(`${name}[${group}]`, entry));
  } else check(name, value);
}

/**
 * Returns a function giving each parameter group's base rate: the explicit one (a number for every group, or one per
 * group), or each group's own rate at the first fit, remembered for later fits.
 */
export function rememberedRate(
  explicit: number | readonly number[] | undefined,
  hyper: string = 'learningRate',
  label: string = hyper
): (ctx: LoopContext) => number[] {
  if (explicit !== undefined) assertRates(label, explicit);
  let remembered: number[] | undefined;
  return (ctx) => {
    const count = groupCountOf(ctx.optimizer);
    if (explicit !== undefined) return perGroup(label, explicit, count);
    remembered ??= hyperWriter(ctx.optimizer, hyper).read();
    if (remembered.length !== count) {
      throw new Error(
        `${label}: the optimizer has ${count} parameter groups, but this scheduler remembered ${remembered.length} base rates ` +
          'from its first fit (use a new scheduler for a new optimizer)'
      );
    }
    return remembered;
  };
}

function lrScheduler(
  options: LearningRateSchedulerOptions,
  defaultName: string,
  build: (base: number, ctx: LoopContext, total: number | undefined, group: number) => (index: number) => number
): ParamSchedulerPlugin {
  const common = schedulerBase({ ...options, input: 'index' }, defaultName);
  const base = rememberedRate(options.learningRate);
  return createScheduler({
    ...common,
    keys: ['learningRate'],
    resolve: (ctx, total) => ({ learningRate: base(ctx).map((rate, group) => build(rate, ctx, total, group)) }),
  });
}

/** Options of {@link stepLR}. */
export interface StepLROptions extends LearningRateSchedulerOptions {
  /** Steps (or epochs) between drops. */
  stepSize: number;
  /** Multiplier at each drop. Defaults to 0.1. */
  gamma?: number;
}

/**
 * Drops the learning rate by `gamma` every `stepSize` steps (or epochs), torch `StepLR`:
 * `lr(t) = base · gamma^⌊t / stepSize⌋` (see {@link stepDecay}).
 *
 * @param options - `stepSize`, `gamma` (defaults to 0.1), and the {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin (see {@link paramScheduler}); it makes no tensors.
 *
 * @example
 * ```ts
 * import { stepLR } from '@convkit/schedule';
 * const plugins = [stepLR({ stepSize: 10, gamma: 0.5, unit: 'epoch' })];
 * ```
 */
export function stepLR(options: StepLROptions): ParamSchedulerPlugin {
  const { stepSize, gamma = 0.1 } = options;
  stepDecay({ initial: 0, stepSize, gamma });
  return lrScheduler(options, 'stepLR', (base) => stepDecay({ initial: base, stepSize, gamma }));
}

/** Options of {@link multiStepLR}. */
export interface MultiStepLROptions extends LearningRateSchedulerOptions {
  /** Increasing step (or epoch) indices at which the rate is multiplied by `gamma`, e.g. `[300, 3000]`. */
  milestones: readonly number[];
  /** Multiplier at each milestone. Defaults to 0.1. */
  gamma?: number;
}

/**
 * Multiplies the learning rate by `gamma` at each milestone, torch `MultiStepLR`: `lr(t) = base · gamma^k`, k the
 * milestones ≤ t (see {@link multiStep}).
 *
 * @param options - `milestones`, `gamma` (defaults to 0.1), and the {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { multiStepLR } from '@convkit/schedule';
 * const plugins = [multiStepLR({ milestones: [300, 3000], gamma: 0.1 })]; // per step
 * ```
 */
export function multiStepLR(options: MultiStepLROptions): ParamSchedulerPlugin {
  const { milestones, gamma = 0.1 } = options;
  multiStep({ initial: 0, milestones, gamma });
  return lrScheduler(options, 'multiStepLR', (base) => multiStep({ initial: base, milestones, gamma }));
}

/** Options of {@link exponentialLR}. */
export interface ExponentialLROptions extends LearningRateSchedulerOptions {
  /** Multiplier per step (or epoch), e.g. 0.9995. */
  gamma: number;
}

/**
 * Multiplies the learning rate by `gamma` every step (or epoch), torch `ExponentialLR`: `lr(t) = base · gamma^t`
 * (see {@link exponentialDecay}).
 *
 * @param options - `gamma`, and the {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { exponentialLR } from '@convkit/schedule';
 * const perStep = exponentialLR({ gamma: 0.9995 });
 * const perEpoch = exponentialLR({ gamma: 0.9, unit: 'epoch', name: 'perEpoch' });
 * ```
 */
export function exponentialLR(options: ExponentialLROptions): ParamSchedulerPlugin {
  exponentialDecay({ initial: 0, gamma: options.gamma });
  return lrScheduler(options, 'exponentialLR', (base) => exponentialDecay({ initial: base, gamma: options.gamma }));
}

/** Options of {@link cosineAnnealing}. */
export interface CosineAnnealingOptions extends LearningRateSchedulerOptions {
  /** Steps (or epochs) of one half cosine (torch `T_max`, or `T_0` with restarts). Defaults to the whole fit. */
  period?: number;
  /** The rate at the bottom (torch `eta_min`). Defaults to 0. */
  minLearningRate?: number;
  /** Restart at the top after every period (SGDR, torch `CosineAnnealingWarmRestarts`). Defaults to false. */
  restarts?: boolean;
  /** With restarts, each period is this many times the previous (torch `T_mult`). Defaults to 1. */
  periodMultiplier?: number;
}

/**
 * Cosine annealing of the learning rate. Without restarts, torch `CosineAnnealingLR`:
 * `lr(t) = min + (base − min) · (1 + cos(π t / period)) / 2`; with `restarts`, torch
 * `CosineAnnealingWarmRestarts` (see {@link cosineWarmRestarts}).
 *
 * @param options - `period` (defaults to the fit's length), `minLearningRate` (defaults to 0), `restarts`
 *   (defaults to false), `periodMultiplier` (defaults to 1), and the {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { cosineAnnealing } from '@convkit/schedule';
 * const sgdr = cosineAnnealing({ period: 10, periodMultiplier: 2, restarts: true, unit: 'epoch' });
 * ```
 */
export function cosineAnnealing(options: CosineAnnealingOptions = {}): ParamSchedulerPlugin {
  const { period, minLearningRate = 0, restarts = false, periodMultiplier = 1 } = options;
  if (period !== undefined) assertPositiveInteger('period', period);
  assertNonNegative('minLearningRate', minLearningRate);
  assertPositiveInteger('periodMultiplier', periodMultiplier);
  return lrScheduler(options, 'cosineAnnealing', (base, _ctx, total) => {
    const length = period ?? requireTotal(total, 'cosineAnnealing');
    if (restarts) return cosineWarmRestarts({ initial: base, minimum: minLearningRate, period: length, periodMultiplier });
    const curve = cosine(base, minLearningRate);
    return (t) => curve(t / length);
  });
}

/** Options of {@link warmup}. */
export interface WarmupOptions extends LearningRateSchedulerOptions {
  /** Steps (or epochs) of the warmup (torch `total_iters`). */
  steps: number;
  /** The fraction of the base rate at the first step (torch `start_factor`). Defaults to 1/3, as torch. */
  startFactor?: number;
  /** The fraction reached after `steps` and kept (torch `end_factor`). Defaults to 1. */
  endFactor?: number;
}

/**
 * Linear warmup, torch `LinearLR`: `lr(t) = base · (s + (e − s) · min(t, steps) / steps)` with s = `startFactor`,
 * e = `endFactor`; after the warmup the rate stays at `base · e`. Combine with a decay through
 * {@link paramScheduler} and {@link combineSchedules} when both are wanted.
 *
 * @param options - `steps`, `startFactor` (defaults to 1/3), `endFactor` (defaults to 1), and the
 *   {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { warmup } from '@convkit/schedule';
 * const plugins = [warmup({ steps: 500, startFactor: 0.01 })];
 * ```
 */
export function warmup(options: WarmupOptions): ParamSchedulerPlugin {
  const { steps, startFactor = 1 / 3, endFactor = 1 } = options;
  assertPositiveInteger('steps', steps);
  assertPositive('startFactor', startFactor);
  assertFinite('endFactor', endFactor);
  assertNonNegative('endFactor', endFactor);
  return lrScheduler(options, 'warmup', (base) => {
    const factor = linear(startFactor, endFactor);
    return (t) => base * factor(Math.min(t, steps) / steps);
  });
}

/** Options of {@link lambdaLR}. */
export interface LambdaLROptions extends LearningRateSchedulerOptions {
  /**
   * The factor on the base rate at each 0-based step (or epoch) index (torch `lr_lambda`): one function for every
   * parameter group, or one per group.
   */
  factor: IndexSchedule | readonly IndexSchedule[];
}

/**
 * Multiplies each parameter group's base rate by a factor of the step (or epoch), torch `LambdaLR`:
 * `lr_g(t) = base_g · factor_g(t)`, where base_g is the group's own rate at the first fit (or `learningRate`).
 *
 * Why: one curve for every group that keeps discriminative rates in proportion (a backbone at a tenth of the
 * head's rate stays at a tenth), where {@link paramScheduler} writes absolute values.
 *
 * @param options - `factor`, and the {@link LearningRateSchedulerOptions}.
 * @returns A scheduler plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { lambdaLR } from '@convkit/schedule';
 * const plugins = [lambdaLR({ factor: (t) => 0.95 ** t, unit: 'epoch' })];
 * ```
 */
export function lambdaLR(options: LambdaLROptions): ParamSchedulerPlugin {
  const { factor } = options;
  if (Array.isArray(factor)) {
    if (factor.length === 0) throw new Error('factor must be a function or a non-empty array of functions, one per group (received [])');
    factor.forEach((f, group) => assertFunction(`factor[${group}]`, f));
  } else assertFunction('factor', factor);
  const factors = (count: number): IndexSchedule[] => {
    if (!Array.isArray(factor)) return Array.from({ length: count }, () => factor as IndexSchedule);
    if (factor.length !== count) {
      throw new Error(`factor has ${factor.length} functions (one per group) but the optimizer has ${count} parameter groups`);
    }
    return [...factor];
  };
  let resolved: IndexSchedule[] = [];
  return lrScheduler(options, 'lambdaLR', (base, ctx, _total, group) => {
    if (group === 0) resolved = factors(groupCountOf(ctx.optimizer));
    const f = resolved[group]!;
    return (t) => base * f(t);
  });
}
