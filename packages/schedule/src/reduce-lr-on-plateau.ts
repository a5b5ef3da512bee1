import type { Plugin } from '@convkit/learner';
import { hyperWriter } from './hyper-writer.js';
import { createMonitor, type MonitorOptions } from './monitor.js';
import { assertFinite, assertNonNegative, assertNonNegativeInteger, describe } from './validate.js';

/** Options of {@link reduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions extends Omit<MonitorOptions, 'minDelta' | 'minDeltaMode' | 'baseline'> {
  /** Multiplies the rate on a plateau (Keras convention), in (0, 1). Defaults to 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated; the rate drops at the next one. Defaults to 10. */
  patience?: number;
  /** The least improvement (torch `threshold`). Defaults to 1e-4. */
  threshold?: number;
  /** `'rel'` (a fraction of the best) or `'abs'`. Defaults to `'rel'`. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again. Defaults to 0. */
  cooldown?: number;
  /** The rate never goes below this. Defaults to 0. */
  minLearningRate?: number;
  /** A reduction smaller than this is skipped (torch `eps`). Defaults to 1e-8. */
  eps?: number;
  /** The hyperparameter reduced. Defaults to `'learningRate'`. */
  hyper?: string;
  /** The plugin name. Defaults to `'reduceLROnPlateau'`. */
  name?: string;
  /** The plugin order. Defaults to 50. */
  order?: number;
  /** Settles a write shared with a scheduler. Defaults to none. */
  priority?: number;
}

/** A plateau plugin with its counters, for inspection. */
export interface ReduceLROnPlateauPlugin extends Plugin {
  /** The best monitored value of this fit. */
  readonly best: number;
  /** Epochs since the last improvement (torch `num_bad_epochs`). */
  readonly badEpochs: number;
  /** Epochs left in the cooldown. */
  readonly cooldownLeft: number;
}

/**
 * Lowers the learning rate when a metric stops improving, matching torch `ReduceLROnPlateau` epoch by epoch. After
 * each epoch (`afterEpoch`): an improvement (see {@link createMonitor}) resets the bad-epoch count, otherwise it
 * grows; during a cooldown it is held at 0; once it exceeds `patience` the rate becomes
 * `max(rate · factor, minLearningRate)` (skipped if the change is below `eps`) and the cooldown starts. With
 * parameter groups each group is reduced. The counters reset in `beforeFit`; the rate is not restored.
 *
 * @param options - `monitor` (`'valid.loss'`), `mode` (`'auto'`), `factor` (0.1, must be < 1), `patience` (10),
 *   `threshold` (1e-4), `thresholdMode` (`'rel'`), `cooldown` (0), `minLearningRate` (0), `eps` (1e-8), `hyper`,
 *   `name`, `order` (50), `priority`.
 * @returns A plugin; it makes no tensors.
 *
 * @example
 * ```ts
 * import { reduceLROnPlateau } from '@convkit/schedule';
 * const plugins = [reduceLROnPlateau({ monitor: 'valid.loss', factor: 0.5, patience: 3, minLearningRate: 1e-5 })];
 * ```
 */
export function reduceLROnPlateau(options: ReduceLROnPlateauOptions = {}): ReduceLROnPlateauPlugin {
  const {
    factor = 0.1,
    patience = 10,
    threshold = 1e-4,
    thresholdMode = 'rel',
    cooldown = 0,
    minLearningRate = 0,
    eps = 1e-8,
    hyper = 'learningRate',
    name = 'reduceLROnPlateau',
    order = 50,
    priority,
  } = options;
  assertFinite('factor', factor);
  if (factor >= 1 || factor <= 0) {
    throw new Error(`factor must be in (0, 1): it multiplies the rate (received ${describe(factor)})`);
  }
  assertNonNegativeInteger('patience', patience);
  assertNonNegativeInteger('cooldown', cooldown);
  assertNonNegative('minLearningRate', minLearningRate);
  assertNonNegative('eps', eps);
  const monitor = createMonitor({ monitor: options.monitor, mode: options.mode, minDelta: threshold, minDeltaMode: thresholdMode } as MonitorOptions);
  let best = monitor.initialBest;
  let badEpochs = 0;
  let cooldownLeft = 0;
  return {
    name,
    order,
    writes: [`hyper.${hyper}`],
    ...(priority === undefined ? {} : { priority }),
    get best() {
      return best;
    },
    get badEpochs() {
      return badEpochs;
    },
    get cooldownLeft() {
      return cooldownLeft;
    },
    beforeFit() {
      best = monitor.initialBest;
      badEpochs = 0;
      cooldownLeft = 0;
    },
    afterEpoch(ctx) {
      const current = monitor.read(ctx.history);
      if (monitor.isImprovement(current, best)) {
        best = current;
        badEpochs = 0;
      } else {
        badEpochs++;
      }
      if (cooldownLeft > 0) {
        cooldownLeft--;
        badEpochs = 0;
      }
      if (badEpochs > patience) {
        hyperWriter(ctx.optimizer, hyper).scale(factor, minLearningRate, eps);
        cooldownLeft = cooldown;
        badEpochs = 0;
      }
    },
    getState: () => ({ best, badEpochs, cooldownLeft }),
    setState(state) {
      const saved = state as { best: number; badEpochs: number; cooldownLeft: number };
      ({ best, badEpochs, cooldownLeft } = saved);
    },
  };
}
