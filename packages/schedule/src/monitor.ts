import type { History } from '@convkit/learner';
import { assertFinite, assertNonNegative, assertOneOf, describe } from './validate.js';

/** Options of {@link createMonitor}, shared by `reduceLROnPlateau`, `earlyStopping` (and checkpoints). */
export interface MonitorOptions {
  /** The metric watched, as `<split>.<metric>`: `'valid.loss'`, `'train.loss'`, `'valid.accuracy'`, …. Defaults to `'valid.loss'`. */
  monitor?: string;
  /** `'min'`, `'max'`, or `'auto'`: max for accuracy-like names (acc, auc, f1, precision, recall), else min. Defaults to `'auto'`. */
  mode?: 'auto' | 'min' | 'max';
  /** The least change that counts as an improvement (≥ 0). Defaults to 0 (the plugins may give another default). */
  minDelta?: number;
  /** `'abs'`: better by `minDelta`; `'rel'`: better by the fraction `minDelta` of the best (torch `threshold_mode`). Defaults to `'abs'`. */
  minDeltaMode?: 'abs' | 'rel';
  /** A value the metric must beat before anything counts as an improvement. Defaults to none. */
  baseline?: number;
}

/** A resolved monitor: reads the watched metric and compares values. */
export interface Monitor {
  /** The metric, e.g. `'valid.loss'`. */
  readonly name: string;
  /** The resolved direction. */
  readonly mode: 'min' | 'max';
  /** The starting best: the baseline, or the worst possible value (±Infinity). */
  readonly initialBest: number;
  /** The metric in the last epoch of `history`; throws listing the available metrics when absent. */
  read(history: History): number;
  /** Whether `current` improves on `best` by more than `minDelta` (torch `is_better`). */
  isImprovement(current: number, best: number): boolean;
}

const MAXIMISED = /acc|auc|f1|precision|recall/i;

/**
 * Builds the monitor shared by the plateau, early-stopping and checkpoint plugins (Keras `MonitorCallback`).
 * Improvement, with d = `minDelta`: min/rel `current < best · (1 − d)`, min/abs `current < best − d`,
 * max/rel `current > best · (1 + d)`, max/abs `current > best + d` (torch `ReduceLROnPlateau.is_better`).
 *
 * @param options - See {@link MonitorOptions}.
 * @returns A {@link Monitor}.
 *
 * @example
 * ```ts
 * import { createMonitor } from '@convkit/schedule';
 * const monitor = createMonitor({ monitor: 'valid.accuracy' });
 * monitor.mode; // 'max'
 * monitor.isImprovement(0.91, 0.9); // true
 * ```
 */
export function createMonitor(options: MonitorOptions = {}): Monitor {
  const { monitor = 'valid.loss', mode = 'auto', minDelta = 0, minDeltaMode = 'abs', baseline } = options;
  const match = typeof monitor === 'string' ? /^(train|valid)\.(.+)$/.exec(monitor) : null;
  if (match === null) {
    throw new Error(`monitor must look like "valid.loss" or "train.accuracy" (received ${describe(monitor)})`);
  }
  assertOneOf('mode', mode, ['auto', 'min', 'max']);
  assertNonNegative('minDelta', minDelta);
  assertOneOf('minDeltaMode', minDeltaMode, ['abs', 'rel']);
  if (baseline !== undefined) assertFinite('baseline', baseline);
  const split = match[1] as 'train' | 'valid';
  const metric = match[2]!;
  const resolved: 'min' | 'max' = mode === 'auto' ? (MAXIMISED.test(metric) ? 'max' : 'min') : mode;
  const isImprovement = (current: number, best: number): boolean => {
    if (resolved === 'min') return minDeltaMode === 'rel' ? current < best * (1 - minDelta) : current < best - minDelta;
    return minDeltaMode === 'rel' ? current > best * (1 + minDelta) : current > best + minDelta;
  };
  return {
    name: monitor,
    mode: resolved,
    initialBest: baseline ?? (resolved === 'min' ? Infinity : -Infinity),
    isImprovement,
    read(history) {
      const last = history.epochs.at(-1);
      const value = last?.[split][metric];
      if (typeof value !== 'number') {
        const available = last
          ? [...Object.keys(last.train).map((k) => `train.${k}`), ...Object.keys(last.valid).map((k) => `valid.${k}`)]
          : [];
        throw new Error(
          `monitor "${monitor}" is not in the history (available: ${available.join(', ') || 'none'})` +
            (split === 'valid' && last && Object.keys(last.valid).length === 0 ? '; give the learner `valid` data' : '')
        );
      }
      return value;
    },
  };
}
