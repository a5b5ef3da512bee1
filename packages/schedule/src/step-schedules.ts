import {
  assertFinite,
  assertNonNegativeInteger,
  assertOneOf,
  assertPositive,
  assertPositiveInteger,
  describe,
} from './validate.js';

/**
 * A schedule indexed by a count: a pure function from the 0-based index of an optimizer step (or of an epoch) to
 * a value — the form torch's `lr_scheduler` classes are defined in. Apply one with
 * `paramScheduler(…, { input: 'index' })` or through the factories (`stepLR`, `multiStepLR`, …).
 */
export type IndexSchedule = (index: number) => number;

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  /** Value at index 0. */
  initial: number;
  /** Multiplier applied every `stepSize` indices (Keras convention: 0.1 divides by ten). Defaults to 0.1. */
  gamma?: number;
  /** Indices between two drops (a positive integer). */
  stepSize: number;
}

/**
 * Step decay, torch `StepLR`: `f(t) = initial · gamma^⌊t / stepSize⌋`.
 *
 * @returns An {@link IndexSchedule}.
 *
 * @example
 * ```ts
 * import { stepDecay } from '@convkit/schedule';
 * const f = stepDecay({ initial: 0.1, gamma: 0.5, stepSize: 3 });
 * [f(0), f(3), f(6)]; // [0.1, 0.05, 0.025]
 * ```
 */
export function stepDecay(options: StepDecayOptions): IndexSchedule {
  const { initial, gamma = 0.1, stepSize } = options;
  assertFinite('initial', initial);
  assertPositive('gamma', gamma);
  assertPositiveInteger('stepSize', stepSize);
  return (t) => initial * Math.pow(gamma, Math.floor(t / stepSize));
}

/** Options of {@link multiStep}. */
export interface MultiStepOptions {
  /** Value at index 0. */
  initial: number;
  /** Increasing indices at which the value is multiplied by `gamma` (e.g. `[300, 3000]`). */
  milestones: readonly number[];
  /** The multiplier at each milestone. Defaults to 0.1. */
  gamma?: number;
}

/**
 * Multi-step decay, torch `MultiStepLR`: `f(t) = initial · gamma^k`, k the number of milestones ≤ t.
 *
 * @returns An {@link IndexSchedule}.
 *
 * @example
 * ```ts
 * import { multiStep } from '@convkit/schedule';
 * const f = multiStep({ initial: 0.01, milestones: [300, 3000] });
 * [f(299), f(300), f(3000)]; // [0.01, 0.001, 0.0001]
 * ```
 */
export function multiStep(options: MultiStepOptions): IndexSchedule {
  const { initial, milestones, gamma = 0.1 } = options;
  assertFinite('initial', initial);
  assertPositive('gamma', gamma);
  if (!Array.isArray(milestones) || milestones.length === 0) {
    throw new Error(`milestones must be a non-empty array of increasing indices (received ${describe(milestones)})`);
  }
  milestones.forEach((m, i) => {
    assertNonNegativeInteger(`milestones[${i}]`, m);
    if (i > 0 && m <= milestones[i - 1]!) {
      throw new Error(`milestones must be increasing (received ${describe(milestones)})`);
    }
  });
  return (t) => initial * Math.pow(gamma, milestones.filter((m) => m <= t).length);
}

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  /** Value at index 0. */
  initial: number;
  /** Multiplier per index, e.g. 0.9995 per step. */
  gamma: number;
}

/**
 * Exponential (geometric) decay, torch `ExponentialLR`: `f(t) = initial · gamma^t`.
 *
 * @returns An {@link IndexSchedule}.
 *
 * @example
 * ```ts
 * import { exponentialDecay } from '@convkit/schedule';
 * exponentialDecay({ initial: 0.01, gamma: 0.9995 })(1000); // ≈ 0.00607
 * ```
 */
export function exponentialDecay(options: ExponentialDecayOptions): IndexSchedule {
  const { initial, gamma } = options;
  assertFinite('initial', initial);
  assertPositive('gamma', gamma);
  return (t) => initial * Math.pow(gamma, t);
}

/** Options of {@link cosineWarmRestarts}. */
export interface CosineWarmRestartsOptions {
  /** Value at the start of every cycle. */
  initial: number;
  /** Value approached at the end of every cycle. Defaults to 0. */
  minimum?: number;
  /** Length of the first cycle in indices (torch `T_0`). */
  period: number;
  /** Each cycle is this many times longer than the previous one (torch `T_mult`, an integer ≥ 1). Defaults to 1. */
  periodMultiplier?: number;
}

/**
 * Cosine annealing with warm restarts (SGDR), torch `CosineAnnealingWarmRestarts` stepped once per index:
 * `f(t) = minimum + (initial − minimum) · (1 + cos(π · T_cur / T_i)) / 2`, where the cycle lengths are
 * `T_i = period · periodMultiplier^i` and `T_cur` counts indices since the last restart.
 *
 * @returns An {@link IndexSchedule}.
 *
 * @example
 * ```ts
 * import { cosineWarmRestarts } from '@convkit/schedule';
 * const f = cosineWarmRestarts({ initial: 0.05, period: 10, periodMultiplier: 2 });
 * [f(0), f(5), f(10), f(20)]; // [0.05, 0.025, 0.05, 0.025]
 * ```
 */
export function cosineWarmRestarts(options: CosineWarmRestartsOptions): IndexSchedule {
  const { initial, minimum = 0, period, periodMultiplier = 1 } = options;
  assertFinite('initial', initial);
  assertFinite('minimum', minimum);
  assertPositiveInteger('period', period);
  assertPositiveInteger('periodMultiplier', periodMultiplier);
  return (t) => {
    let current = t;
    let length = period;
    while (current >= length) {
      current -= length;
      length *= periodMultiplier;
    }
    return minimum + ((initial - minimum) * (1 + Math.cos((Math.PI * current) / length))) / 2;
  };
}

/** The amplitude policies of {@link cyclic}. */
export type CyclicMode = 'triangular' | 'triangular2' | 'expRange';

/** Options of {@link cyclic}. */
export interface CyclicOptions {
  /** The value at the start of each cycle (torch `base_lr`). */
  low: number;
  /** The value at the peak of the first cycle (torch `max_lr`). May be below `low` (momentum cycles so). */
  high: number;
  /** Indices from `low` up to the peak. Defaults to 2000. */
  stepSizeUp?: number;
  /** Indices from the peak back down. Defaults to `stepSizeUp`. */
  stepSizeDown?: number;
  /** `'triangular'`: constant amplitude; `'triangular2'`: halved every cycle; `'expRange'`: × gamma^t. Defaults to `'triangular'`. */
  mode?: CyclicMode;
  /** The per-index factor of `'expRange'`. Defaults to 1. */
  gamma?: number;
}

/** The cyclic modes, for validation. */
export const CYCLIC_MODES: readonly CyclicMode[] = ['triangular', 'triangular2', 'expRange'];

/**
 * A cyclical schedule (Smith 2017), torch `CyclicLR`: with `L = stepSizeUp + stepSizeDown`,
 * `c = ⌊1 + t / L⌋`, `x = 1 + t / L − c` and `s = x / r` if `x ≤ r` else `(x − 1) / (r − 1)` (r = stepSizeUp / L),
 * `f(t) = low + (high − low) · s · scale`, where scale is 1 (`triangular`), `1 / 2^(c − 1)` (`triangular2`) or
 * `gamma^t` (`expRange`).
 *
 * @returns An {@link IndexSchedule}.
 *
 * @example
 * ```ts
 * import { cyclic } from '@convkit/schedule';
 * const f = cyclic({ low: 0.001, high: 0.1, stepSizeUp: 5 });
 * [f(0), f(5), f(10)]; // [0.001, 0.1, 0.001]
 * ```
 */
export function cyclic(options: CyclicOptions): IndexSchedule {
  const { low, high, stepSizeUp = 2000, mode = 'triangular', gamma = 1 } = options;
  const stepSizeDown = options.stepSizeDown ?? stepSizeUp;
  assertFinite('low', low);
  assertFinite('high', high);
  assertPositiveInteger('stepSizeUp', stepSizeUp);
  assertNonNegativeInteger('stepSizeDown', stepSizeDown);
  assertOneOf('mode', mode, CYCLIC_MODES);
  assertPositive('gamma', gamma);
  const total = stepSizeUp + stepSizeDown;
  const ratio = stepSizeUp / total;
  return (t) => {
    const cycle = Math.floor(1 + t / total);
    const x = 1 + t / total - cycle;
    const factor = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const scale = mode === 'triangular' ? 1 : mode === 'triangular2' ? 1 / Math.pow(2, cycle - 1) : Math.pow(gamma, t);
    return low + (high - low) * factor * scale;
  };
}
