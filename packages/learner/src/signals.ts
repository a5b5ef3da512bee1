import type { CancelEvent, LoopEvent } from './events.js';

/** A level of the loop that a signal can cancel. */
export type CancelLevel = 'fit' | 'epoch' | 'batch' | 'step' | 'validate';

/**
 * Base class of the loop's typed stop signals. Throw a subclass from a hook to cancel a level of the loop; the
 * loop catches it at that level, runs `afterCancel<Level>` and then `after<Level>`, and carries on with the level
 * above. It is an `Error`, so an uncaught one still has a stack.
 *
 * `plugin` and `event` are filled in by the loop with where the signal was thrown, for messages and
 * `history.stopReason`.
 */
export class CancelSignal extends Error {
  /** The level this signal cancels. */
  readonly level: CancelLevel;
  /** Why the hook cancelled, if it said. */
  readonly reason: string | undefined;
  /** The plugin that threw it (set by the loop). */
  plugin: string | undefined;
  /** The event it was thrown in (set by the loop). */
  event: string | undefined;

  constructor(level: CancelLevel, reason?: string) {
    super(reason === undefined ? `cancel ${level}` : `cancel ${level}: ${reason}`);
    this.name = new.target.name;
    this.level = level;
    this.reason = reason;
    this.plugin = undefined;
    this.event = undefined;
  }
}

/**
 * Skips the rest of the current batch: no further batch hooks before `afterCancelBatch` and `afterBatch`, and no
 * optimizer step. Throw it from `beforeBatch` … `afterStep`.
 *
 * @example
 * ```ts
 * import { CancelBatch, plugin } from '@convkit/learner';
 * const skipOdd = plugin('skipOdd', { beforeBatch(ctx) { if (ctx.batchIndex % 2 === 1) throw new CancelBatch('odd'); } });
 * ```
 */
export class CancelBatch extends CancelSignal {
  constructor(reason?: string) {
    super('batch', reason);
  }
}

/**
 * Skips the optimizer step only: the weights keep their values, the batch still counts in the epoch's loss and
 * metrics, and `afterCancelStep`, `afterStep` and `afterBatch` still run. Throw it from `beforeStep`.
 *
 * @example
 * ```ts
 * import { CancelStep, plugin } from '@convkit/learner';
 * const freezeFirst = plugin('freezeFirst', { beforeStep(ctx) { if (ctx.step === 0) throw new CancelStep(); } });
 * ```
 */
export class CancelStep extends CancelSignal {
  constructor(reason?: string) {
    super('step', reason);
  }
}

/**
 * Ends the current epoch early: the remaining batches and the validation are skipped, the epoch is still recorded
 * in the history (with the training metrics of the batches that ran), then `afterCancelEpoch` and `afterEpoch` run
 * and the next epoch starts. Throw it from `beforeEpoch` … `afterValidate`.
 *
 * @example
 * ```ts
 * import { CancelEpoch, plugin } from '@convkit/learner';
 * const tenBatches = plugin('tenBatches', { afterBatch(ctx) { if (ctx.batchIndex === 9) throw new CancelEpoch(); } });
 * ```
 */
export class CancelEpoch extends CancelSignal {
  constructor(reason?: string) {
    super('epoch', reason);
  }
}

/**
 * Skips this epoch's validation: `afterCancelValidate` and `afterValidate` run, the epoch's `valid` record stays
 * empty. Throw it from `beforeValidate`.
 *
 * @example
 * ```ts
 * import { CancelValidate, plugin } from '@convkit/learner';
 * const validateEvenEpochs = plugin('validateEven', { beforeValidate(ctx) { if (ctx.epoch % 2) throw new CancelValidate(); } });
 * ```
 */
export class CancelValidate extends CancelSignal {
  constructor(reason?: string) {
    super('validate', reason);
  }
}

/**
 * Ends the fit: `afterCancelFit` and `afterFit` run, and `fit` resolves with the history so far, whose
 * `stopReason` says who stopped it and why. Throw it from any event of the fit (early stopping throws it in
 * `afterEpoch`).
 *
 * @example
 * ```ts
 * import { CancelFit, plugin } from '@convkit/learner';
 * const stopAtStep100 = plugin('stop', { afterBatch(ctx) { if (ctx.step >= 100) throw new CancelFit('100 steps'); } });
 * ```
 */
export class CancelFit extends CancelSignal {
  constructor(reason?: string) {
    super('fit', reason);
  }
}

interface LevelEvents {
  readonly before: LoopEvent;
  readonly after: LoopEvent;
  readonly cancel: CancelEvent;
}

/** The before/after/cancel events of each level. */
export const LEVEL_EVENTS: Readonly<Record<CancelLevel, LevelEvents>> = {
  fit: { before: 'beforeFit', after: 'afterFit', cancel: 'afterCancelFit' },
  epoch: { before: 'beforeEpoch', after: 'afterEpoch', cancel: 'afterCancelEpoch' },
  batch: { before: 'beforeBatch', after: 'afterBatch', cancel: 'afterCancelBatch' },
  step: { before: 'beforeStep', after: 'afterStep', cancel: 'afterCancelStep' },
  validate: { before: 'beforeValidate', after: 'afterValidate', cancel: 'afterCancelValidate' },
};

/** What {@link withEvents} needs from the loop: firing events and tracking which levels are running. */
export interface EventRuntime {
  /** Runs every hook of `event`, in order. */
  fire(event: LoopEvent | CancelEvent): Promise<void>;
  /** Levels whose before-event or body is running: only these can be cancelled. */
  readonly activeLevels: Set<CancelLevel>;
  /** Called when a level catches its own signal. */
  onCancel?(signal: CancelSignal): void;
}

/** Options of {@link withEvents}. */
export interface WithEventsOptions {
  /** Runs after the body (or its cancellation) and before `after<Level>`; not on errors or outer signals. */
  settle?: () => void | Promise<void>;
  /** Fit level only: called with the error ending the fit, before `afterFit` runs. */
  onFailure?: (error: unknown) => void;
}

/**
 * Runs one level of the loop, fastai's `_with_events`: fires `before<Level>`, runs `body`; if either throws the
 * level's own cancel signal, fires `afterCancel<Level>` and swallows it; then fires `after<Level>`. Other errors and
 * the signals of outer levels propagate without `after<Level>`, except at the `fit` level, whose `afterFit` runs
 * whatever happened (an error thrown by `afterFit` itself does not replace the error already propagating).
 */
export async function withEvents(
  level: CancelLevel,
  body: () => void | Promise<void>,
  runtime: EventRuntime,
  options: WithEventsOptions = {}
): Promise<void> {
  const events = LEVEL_EVENTS[level];
  const guarded = async (): Promise<void> => {
    runtime.activeLevels.add(level);
    try {
      await runtime.fire(events.before);
      await body();
    } catch (error) {
      if (!(error instanceof CancelSignal) || error.level !== level) throw error;
      runtime.activeLevels.delete(level);
      runtime.onCancel?.(error);
      await runtime.fire(events.cancel);
    } finally {
      runtime.activeLevels.delete(level);
    }
    await options.settle?.();
  };
  if (level !== 'fit') {
    await guarded();
    await runtime.fire(events.after);
    return;
  }
  let failure: { error: unknown } | undefined;
  try {
    await guarded();
  } catch (error) {
    failure = { error };
    options.onFailure?.(error);
  }
  try {
    await runtime.fire(events.after);
  } catch (error) {
    if (failure === undefined) throw error;
  }
  if (failure !== undefined) throw failure.error;
}
