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

/** A batch whose loader transform may still be pending (`DataLoader` with `deferTransform: true`). */
interface MaybeDeferred {
  applyTransform?: () => void;
}

/** Runs the loader's deferred transform on the current batch, if it has one (see `deferTransform` of `DataLoader`). */
function applyDeferred(batch: unknown): void {
  const pending = (batch as MaybeDeferred | undefined)?.applyTransform;
  if (typeof pending === 'function') pending.call(batch);
}

/**
 * The key under which a `DataLoader` of `@convkit/data` marks a batch whose transform already ran when it was built
 * (`TRANSFORMED_AHEAD` there; a registered symbol, so this package need not import that one). Its value is `{ prefetch }`.
 */
const TRANSFORMED_AHEAD = Symbol.for('@convkit/data:transformedAhead');

/**
 * Throws when `batch` was transformed ahead by a `DataLoader` without `deferTransform`: a strength written for this
 * step would reach a batch built up to `prefetch + 1` steps later, while the history reports it as used now.
 */
function refuseTransformedAhead(plugin: string, batch: unknown): void {
  if (typeof batch !== 'object' || batch === null) return;
  const mark = (batch as { [TRANSFORMED_AHEAD]?: { prefetch?: unknown } })[TRANSFORMED_AHEAD];
  if (mark === undefined) return;
  const prefetch = typeof mark.prefetch === 'number' ? mark.prefetch : 0;
  throw new Error(
    `${plugin}: the batch comes from a DataLoader whose transform already ran when the batch was built (with ` +
      `prefetch ${prefetch}, up to ${prefetch + 1} steps ahead), so a scheduled strength would be applied up to ` +
      `${prefetch + 1} steps late while the history reports it as used on time. Create the DataLoader with ` +
      '`deferTransform: true`: its transform then runs in this plugin\'s beforeBatch, at the batch\'s own step',
  );
}

/**
 * The plugin order of {@link augmentStrength} and {@link progressiveAugmentation}: after the schedulers (10), so the
 * strength written for a step is the one its batch is augmented with; before {@link mixPlugin} (30).
 */
export const AUGMENT_ORDER = 20;

/**
 * A plugin that copies its `params.strength` onto `transform.strength` before every batch, so
 * another plugin (e.g. `paramScheduler({ 'param.augment.strength': linear(0.2, 1) })`) can drive it.
 *
 * On time: give the `DataLoader` `deferTransform: true`. Its batches then wait with their transform until this plugin
 * runs it in `beforeBatch`, after the scheduler has written the step's value (order {@link AUGMENT_ORDER}), so batch
 * `t` is augmented with the strength scheduled for step `t` even with `prefetch`. A batch from a `DataLoader` with a
 * `transform` but without `deferTransform` was augmented when it was built, up to `prefetch + 1` steps ahead, with the
 * strength in force then: this plugin throws on it (in its first `beforeBatch`, before any step) instead of training
 * with late strengths. Batches from other sources (arrays, your own iterables) are used as they come.
 *
 * @throws in `beforeBatch` if the batch comes from a `DataLoader` with a `transform` and `deferTransform` unset.
 *
 * @param options - `name` (defaults to `'augment'`), `initial` strength (defaults to the transform's).
 * @example
 * ```ts
 * const augment = compose([batchFlip(), batchAffine({ shift: 0.1 })]);
 * const train = new DataLoader(data, { batchSize: 32, transform: batchTransform(augment), deferTransform: true });
 * // plugins: [augmentStrength(augment), paramScheduler({ 'param.augment.strength': linear(0, 1) })]
 * ```
 */
export function augmentStrength(transform: HasStrength, options: { name?: string; initial?: number } = {}): StrengthPlugin {
  const initial = checkUnit('augmentStrength: initial', options.initial ?? transform.strength);
  const params = { strength: initial };
  const sync = (): void => {
    transform.strength = params.strength;
  };
  const name = options.name ?? 'augment';
  return {
    name,
    order: AUGMENT_ORDER,
    params,
    beforeFit: sync,
    beforeEpoch: sync,
    beforeBatch(ctx) {
      refuseTransformedAhead(`augmentStrength ('${name}')`, ctx.batch);
      sync();
      applyDeferred(ctx.batch);
    },
  };
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
 * hardens and then softens again (E2.4). The current value is in `params.strength`. It also runs
 * a `DataLoader`'s deferred transform (`deferTransform: true`) in `beforeBatch`, like
 * {@link augmentStrength}.
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
    order: AUGMENT_ORDER,
    params,
    writes: [`param.${name}.strength`],
    beforeBatch(ctx) {
      applyDeferred(ctx.batch);
    },
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
