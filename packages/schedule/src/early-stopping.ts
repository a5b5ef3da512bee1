import type * as tf from '@tensorflow/tfjs';
import { CancelFit, type Plugin } from '@convkit/learner';
import { createMonitor, type MonitorOptions } from './monitor.js';
import { assertNonNegativeInteger, assertPositive, describe } from './validate.js';
import { copyWeights, disposeWeights, restoreWeights } from './weights.js';

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions extends MonitorOptions {
  /** Epochs without improvement before giving up. Defaults to 3 (Infinity when only `patienceMinutes` is given). */
  patience?: number;
  /** Minutes without improvement (on the learner's clock `ctx.now()`) before giving up. Defaults to none. */
  patienceMinutes?: number;
  /** Put back the best epoch's weights when the fit ends. Defaults to false. */
  restoreBest?: boolean;
  /** The plugin name. Defaults to `'earlyStopping'`. */
  name?: string;
  /** The plugin order. Defaults to 55 (after reduce-on-plateau). */
  order?: number;
}

/** An early-stopping plugin with what it saw in the current (or last) fit. */
export interface EarlyStoppingPlugin extends Plugin {
  /** The best monitored value. */
  readonly best: number;
  /** The 0-based epoch of the best value, or -1. */
  readonly bestEpoch: number;
  /** Epochs since the last improvement. */
  readonly wait: number;
  /** Why the fit was stopped, or undefined when it was not. */
  readonly stoppedReason: string | undefined;
  /**
   * `{ best, bestEpoch, wait }` for a checkpoint (`best` is `null` before any improvement), so a resumed fit keeps
   * counting patience where the saved one stood. The kept best weights of `restoreBest` are not in it.
   */
  getState(): EarlyStoppingState;
  /** Restores a state from `getState`, after `beforeFit` (the learner's resume does this). */
  setState(state: unknown): void;
}

/** The checkpointed state of an {@link earlyStopping} plugin. */
export interface EarlyStoppingState {
  best: number | null;
  bestEpoch: number;
  wait: number;
}

/**
 * Gives up a run that stops improving (Keras `EarlyStopping`, fastai `EarlyStoppingCallback`): after each epoch the
 * monitored metric is compared with the best so far (see {@link createMonitor}); after `patience` epochs, or
 * `patienceMinutes` minutes of the learner's clock, without an improvement the plugin throws `CancelFit` with the
 * reason (`history.stopReason` shows it). The clock is `ctx.now()`, so tests inject `LearnerOptions.now` instead of
 * sleeping. State resets in `beforeFit`.
 *
 * Ownership: with `restoreBest` the plugin keeps a copy of the best weights, assigns it back in `afterFit` and
 * disposes it there.
 *
 * @param options - `monitor` (`'valid.loss'`), `mode` (`'auto'`), `minDelta` (0), `minDeltaMode` (`'abs'`),
 *   `baseline`, `patience` (3), `patienceMinutes`, `restoreBest` (false), `name`, `order` (55).
 * @returns A plugin.
 *
 * @example
 * ```ts
 * import { earlyStopping } from '@convkit/schedule';
 * const plugins = [earlyStopping({ monitor: 'valid.accuracy', patience: 5, patienceMinutes: 30, restoreBest: true })];
 * ```
 */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStoppingPlugin {
  const { patienceMinutes, restoreBest = false, name = 'earlyStopping', order = 55 } = options;
  const patience = options.patience ?? (patienceMinutes === undefined ? 3 : Infinity);
  if (patience !== Infinity) assertNonNegativeInteger('patience', patience);
  if (patienceMinutes !== undefined) assertPositive('patienceMinutes', patienceMinutes);
  if (typeof restoreBest !== 'boolean') throw new Error(`restoreBest must be a boolean (received ${describe(restoreBest)})`);
  const monitor = createMonitor(options);
  let best = monitor.initialBest;
  let bestEpoch = -1;
  let wait = 0;
  let lastImprovement = 0;
  let stoppedReason: string | undefined;
  let bestWeights: tf.Tensor[] | undefined;
  return {
    name,
    order,
    get best() {
      return best;
    },
    get bestEpoch() {
      return bestEpoch;
    },
    get wait() {
      return wait;
    },
    get stoppedReason() {
      return stoppedReason;
    },
    beforeFit(ctx) {
      best = monitor.initialBest;
      bestEpoch = -1;
      wait = 0;
      stoppedReason = undefined;
      lastImprovement = ctx.now();
      disposeWeights(bestWeights);
      bestWeights = undefined;
    },
    afterEpoch(ctx) {
      const current = monitor.read(ctx.history);
      if (monitor.isImprovement(current, best)) {
        best = current;
        bestEpoch = ctx.epoch;
        wait = 0;
        lastImprovement = ctx.now();
        if (restoreBest) {
          disposeWeights(bestWeights);
          bestWeights = copyWeights(ctx.model);
        }
        return;
      }
      wait++;
      const minutes = (ctx.now() - lastImprovement) / 60_000;
      const bestText = bestEpoch < 0 ? 'no improvement yet' : `best ${best} at epoch ${bestEpoch}`;
      if (wait >= patience) {
        stoppedReason = `${monitor.name} did not improve for ${wait} epochs (${bestText})`;
      } else if (patienceMinutes !== undefined && minutes >= patienceMinutes) {
        stoppedReason = `${monitor.name} did not improve for ${minutes.toFixed(1)} minutes (${bestText})`;
      }
      if (stoppedReason !== undefined) throw new CancelFit(stoppedReason);
    },
    getState: () => ({ best: Number.isFinite(best) ? best : null, bestEpoch, wait }),
    setState(state) {
      const saved = state as Partial<EarlyStoppingState> | null;
      const ok =
        typeof saved === 'object' && saved !== null && (saved.best === null || Number.isFinite(saved.best)) &&
        Number.isInteger(saved.bestEpoch) && Number.isInteger(saved.wait) && saved.wait! >= 0;
      if (!ok) throw new Error(`state must be { best, bestEpoch, wait } from getState (received ${JSON.stringify(state)})`);
      best = saved.best ?? monitor.initialBest;
      bestEpoch = saved.bestEpoch!;
      wait = saved.wait!;
    },
    afterFit(ctx) {
      if (bestWeights !== undefined) restoreWeights(ctx.model, bestWeights);
      disposeWeights(bestWeights);
      bestWeights = undefined;
    },
  };
}
