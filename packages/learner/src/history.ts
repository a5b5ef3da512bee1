/**
 * One epoch of a fit: metric values of the training and validation phases (same names in both: `loss`,
 * `accuracy`, …), the optimizer's hyperparameters at the epoch end, wall-clock seconds and the optimizer steps
 * taken so far in the learner's life.
 */
export interface EpochRecord {
  /** 0-based epoch index within the fit. */
  epoch: number;
  /** Optimizer steps completed by the learner at the epoch end (counting every fit). */
  step: number;
  /** Wall-clock seconds of the epoch (training and validation), from the learner's clock. */
  seconds: number;
  /** Training metrics: `loss` (mean over samples) and each metric's value over the epoch. */
  train: Record<string, number>;
  /** Validation metrics with the same names; empty when there was no validation this epoch. */
  valid: Record<string, number>;
  /** Optimizer hyperparameters at the epoch end. */
  hypers: Record<string, number>;
}

/** One optimizer step: the batch loss and the hyperparameters the step used. */
export interface StepRecord {
  /** 0-based index of the step in the learner's life. */
  step: number;
  /** 0-based epoch within the fit. */
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  /** The batch's loss (after `afterLoss` hooks: the value that was differentiated). */
  loss: number;
  /** Hyperparameter values used by this step (with parameter groups `name/1`, … hold groups 1, …; see `hyperKeys`). */
  hypers: Record<string, number>;
}

/**
 * What a fit recorded. `steps` entries are read from the device in one batch at each epoch end (or sooner, when a
 * plugin calls `ctx.lossValue()` / `ctx.runningLoss()`), so during an epoch `steps` holds the previous epochs.
 */
export interface History {
  /** One record per epoch, in order. */
  epochs: EpochRecord[];
  /** One record per optimizer step, in order. */
  steps: StepRecord[];
  /**
   * Why the fit ended: `'completed'`, `'cancelled by plugin "x" in afterEpoch: reason'`, or `'error: message'`.
   * Undefined while the fit runs.
   */
  stopReason?: string;
}

/** The latest metric values the loop computed (see `LoopContext.lastMetrics`). */
export interface LastMetrics {
  train: Record<string, number>;
  valid: Record<string, number>;
}

/** An empty history. */
export function emptyHistory(): History {
  return { epochs: [], steps: [] };
}
