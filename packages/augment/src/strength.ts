import type { Plugin } from '@convkit/learner';
import { checkUnit } from './transform.js';

/** A schedule: a function of training progress in [0, 1] (same shape as `@convkit/schedule`'s). */
export type Schedule = (progress: number) => number;

/** Something with a settable `strength` (any transform or container). */
export interface HasStrength {
  readonly name: string;
  strength: number;
}

/** A plugin exposing `params.strength`, schedulable as `param.<name>.strength` by `@convkit/schedule`. */
export interface StrengthPlugin extends Plugin {
  readonly params: { strength: number };
}

/** Options of {@link softHarshSoft}. */
export interface SoftHarshSoftOptions {
  /** Strength at the start. Defaults to 0.2. */
  start?: number;
  /** Strength at the peak. Defaults to 1. */
  peak?: number;
  /** Progress of the peak, in (0, 1). Defaults to 0.6. */
  peakAt?: number;
  /** Strength at the end. Defaults to 0.3. */
  end?: number;
}

/**
 * The soft → harsh → soft strength schedule of experiment E2.4: linear from `start` to `peak` at
 * `peakAt`, then linear down to `end`.
 *
 * @example
 * ```ts
 * const schedule = softHarshSoft(); // 0.2 → 1 at 60% → 0.3
 * schedule(0.6); // 1
 * ```
 */
export function softHarshSoft(options: SoftHarshSoftOptions = {}): Schedule {
  const start = checkUnit('softHarshSoft: start', options.start ?? 0.2);
  const peak = checkUnit('softHarshSoft: peak', options.peak ?? 1);
  const end = checkUnit('softHarshSoft: end', options.end ?? 0.3);
  const peakAt = options.peakAt ?? 0.6;
  if (!(peakAt > 0 && peakAt < 1)) throw new Error(`softHarshSoft: peakAt must be in (0, 1) (received ${String(peakAt)})`);
  return (progress) => {
    const t = Math.min(1, Math.max(0, progress));
    return t <= peakAt ? start + (peak - start) * (t / peakAt) : peak + (end - peak) * ((t - peakAt) / (1 - peakAt));
  };
}

/**
 * A plugin that copies its `params.strength` onto `transform.strength` before every batch, so
 * another plugin (e.g. `paramScheduler({ 'param.augment.strength': linear(0.2, 1) })`) can drive it.
 *
 * @param options - `name` (defaults to `'augment'`), `initial` strength (defaults to the transform's).
 * @example
 * ```ts
 * const strength = augmentStrength(pipeline, { name: 'augment' });
 * // plugins: [strength, paramScheduler({ 'param.augment.strength': linear(0, 1) })]
 * ```
 */
export function augmentStrength(transform: HasStrength, options: { name?: string; initial?: number } = {}): StrengthPlugin {
  const initial = checkUnit('augmentStrength: initial', options.initial ?? transform.strength);
  const params = { strength: initial };
  const sync = (): void => {
    transform.strength = params.strength;
  };
  return { name: options.name ?? 'augment', order: 5, params, beforeFit: sync, beforeEpoch: sync, beforeBatch: sync };
}

/** Options of {@link progressiveAugmentation}. */
export interface ProgressiveAugmentationOptions {
  /** The transform (or container) whose strength follows the schedule. */
  transform: HasStrength;
  /** `'softHarshSoft'` (the default {@link softHarshSoft}) or any schedule of progress in [0, 1]. */
  schedule?: 'softHarshSoft' | Schedule;
  /** Plugin name; the parameter is `param.<name>.strength`. Defaults to `'augment'`. */
  name?: string;
}

/**
 * Sets the transform's strength at the start of every epoch from a schedule of progress
 * `epoch / (epochs − 1)` (so the last epoch gets the schedule's end value): augmentation that
 * hardens and then softens again (E2.4). The current value is in `params.strength`.
 *
 * @example
 * ```ts
 * const plugins = [progressiveAugmentation({ transform: pipeline })];
 * ```
 */
export function progressiveAugmentation(options: ProgressiveAugmentationOptions): StrengthPlugin {
  const transform = options?.transform;
  if (typeof transform?.strength !== 'number') {
    throw new Error(`progressiveAugmentation: transform must have a numeric strength (received ${String(transform)})`);
  }
  const given = options.schedule ?? 'softHarshSoft';
  if (given !== 'softHarshSoft' && typeof given !== 'function') {
    throw new Error(`progressiveAugmentation: schedule must be 'softHarshSoft' or a function (received ${String(given)})`);
  }
  const schedule = given === 'softHarshSoft' ? softHarshSoft() : given;
  const name = options.name ?? 'augment';
  const params = { strength: transform.strength };
  return {
    name,
    order: 5,
    params,
    writes: [`param.${name}.strength`],
    beforeEpoch(ctx) {
      const progress = ctx.epochs > 1 ? ctx.epoch / (ctx.epochs - 1) : 0;
      params.strength = checkUnit(`${name}: scheduled strength`, schedule(progress));
      transform.strength = params.strength;
    },
    getState: () => ({ strength: params.strength }),
    setState(state) {
      const value = (state as { strength?: unknown })?.strength;
      params.strength = checkUnit(`${name}: state.strength`, value);
      transform.strength = params.strength;
    },
  };
}
