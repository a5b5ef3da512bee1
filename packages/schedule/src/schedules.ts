import { assertFinite, assertFunction, assertPositive, describe } from './validate.js';

/**
 * A schedule: a pure function from training progress in [0, 1] (0 at the first step of the fit, approaching 1 at
 * its last) to a value. Schedules know nothing about steps or epochs; {@link paramScheduler} maps the loop's
 * position to progress. Build them with {@link linear}, {@link cosine}, {@link exponential}, {@link polynomial},
 * {@link constant}, and join them with {@link combineSchedules}.
 */
export type Schedule = (progress: number) => number;

/**
 * Linear interpolation: `f(p) = start + p · (end − start)` (fastai `sched_lin`).
 *
 * @param start - Value at p = 0.
 * @param end - Value at p = 1.
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { linear } from '@convkit/schedule';
 * linear(0, 0.1)(0.5); // 0.05
 * ```
 */
export function linear(start: number, end: number): Schedule {
  assertFinite('start', start);
  assertFinite('end', end);
  return (p) => start + p * (end - start);
}

/**
 * Cosine annealing: `f(p) = start + (1 + cos(π · (1 − p))) · (end − start) / 2` (fastai `sched_cos`), equal to
 * torch's `end + (start − end) · (1 + cos(π p)) / 2`. Flat at both ends, steepest in the middle.
 *
 * @param start - Value at p = 0.
 * @param end - Value at p = 1.
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { cosine } from '@convkit/schedule';
 * cosine(0.1, 0)(0.5); // 0.05
 * ```
 */
export function cosine(start: number, end: number): Schedule {
  assertFinite('start', start);
  assertFinite('end', end);
  return (p) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1);
}

/**
 * Geometric interpolation: `f(p) = start · (end / start)^p` (fastai `sched_exp`); a straight line on a log axis,
 * as the LR finder sweeps. `start` and `end` must be > 0.
 *
 * @param start - Value at p = 0 (> 0).
 * @param end - Value at p = 1 (> 0).
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { exponential } from '@convkit/schedule';
 * exponential(1e-7, 10)(0.5); // ≈ 1e-3
 * ```
 */
export function exponential(start: number, end: number): Schedule {
  assertPositive('start', start);
  assertPositive('end', end);
  return (p) => start * Math.pow(end / start, p);
}

/**
 * Polynomial interpolation: `f(p) = start + (end − start) · p^power` (fastai `SchedPoly`); `power` 1 is linear,
 * 2 starts slowly, 0.5 starts fast.
 *
 * @param start - Value at p = 0.
 * @param end - Value at p = 1.
 * @param power - The exponent (> 0).
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { polynomial } from '@convkit/schedule';
 * polynomial(0, 1, 2)(0.5); // 0.25
 * ```
 */
export function polynomial(start: number, end: number, power: number): Schedule {
  assertFinite('start', start);
  assertFinite('end', end);
  assertPositive('power', power);
  return (p) => start + (end - start) * Math.pow(p, power);
}

/**
 * A constant: `f(p) = value` (fastai `sched_no`).
 *
 * @param value - The value at every p.
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { constant } from '@convkit/schedule';
 * constant(0.9)(0.3); // 0.9
 * ```
 */
export function constant(value: number): Schedule {
  assertFinite('value', value);
  return () => value;
}

/**
 * Joins schedules end to end: the i-th schedule runs over a fraction `fractions[i]` of the progress, fed its own
 * local progress from 0 to 1 (fastai `combine_scheds`). With `c_i` the cumulative fractions (`c_0 = 0`), progress
 * p in [c_i, c_{i+1}) gives `schedules[i]((p − c_i) / (c_{i+1} − c_i))`; p ≥ the last boundary stays in the last
 * schedule. One-cycle is `combineSchedules([0.25, 0.75], [cosine(low, high), cosine(high, low / 1e4)])`.
 *
 * @param fractions - Positive fractions summing to 1 (within 1e-9).
 * @param schedules - One {@link Schedule} per fraction.
 * @returns A {@link Schedule}.
 *
 * @example
 * ```ts
 * import { combineSchedules, cosine, linear } from '@convkit/schedule';
 * const warmThenDecay = combineSchedules([0.1, 0.9], [linear(0, 0.1), cosine(0.1, 0)]);
 * warmThenDecay(0.05); // 0.05 (halfway through the warmup)
 * ```
 */
export function combineSchedules(fractions: readonly number[], schedules: readonly Schedule[]): Schedule {
  if (!Array.isArray(fractions) || fractions.length === 0) {
    throw new Error(`fractions must be a non-empty array of numbers (received ${describe(fractions)})`);
  }
  if (!Array.isArray(schedules) || schedules.length !== fractions.length) {
    throw new Error(
      `schedules must have one schedule per fraction (received ${Array.isArray(schedules) ? schedules.length : describe(schedules)} for ${fractions.length} fractions)`
    );
  }
  fractions.forEach((f, i) => assertPositive(`fractions[${i}]`, f));
  schedules.forEach((s, i) => assertFunction(`schedules[${i}]`, s));
  const total = fractions.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-9) throw new Error(`fractions must sum to 1 (received ${describe(fractions)}, sum ${total})`);
  const bounds = [0];
  for (const f of fractions) bounds.push(bounds.at(-1)! + f);
  return (p) => {
    let index = 0;
    for (let i = 0; i < bounds.length; i++) if (p >= bounds[i]!) index = i;
    if (index >= fractions.length) index = fractions.length - 1;
    return schedules[index]!((p - bounds[index]!) / (bounds[index + 1]! - bounds[index]!));
  };
}
