import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '@convkit/core';
import type { Batch } from './batch-source.js';
import type { History } from './history.js';
import type { Learner } from './learner.js';
import type { LearnerModel } from './model.js';
import type { OptimizerLike, VariableGradient } from './optimizer.js';

/** The latest metric values the loop computed (see {@link LoopContext.lastMetrics}). */
export interface LastMetrics {
  train: Record<string, number>;
  valid: Record<string, number>;
}

/**
 * The loop state handed to every hook: one object per fit, updated as the loop runs.
 *
 * Which fields hold what, by event:
 *
 * | field | valid in | writable in |
 * |---|---|---|
 * | `epoch`, `epochs`, `step`, `fitStep`, `history`, `hypers`, `rng`, `lastMetrics` | every event | `hypers` anywhere (applies to the next step) |
 * | `batchIndex`, `batch` | `beforeBatch` … `afterBatch` | `batch` in `beforeBatch` |
 * | `pred` | `afterPred` … `afterBatch` | `afterPred` |
 * | `loss` | `afterLoss` … `afterBatch` | `afterLoss` |
 * | `grads` | `afterBackward` … `afterBatch` | `afterBackward` |
 *
 * Outside those events the batch fields are `undefined`.
 *
 * Tensor ownership: the learner owns `batch`, `pred`, `loss` and `grads` and disposes them after `afterBatch`.
 * A hook that replaces one hands the new tensor to the learner, which disposes the replaced one (unless the new
 * value still uses it, e.g. `ctx.batch = { x: augmented, y: ctx.batch.y }`). Replaced `pred`/`loss` tensors made
 * in `afterPred`/`afterLoss` are inside the tape, where temporaries are freed automatically. Hooks must not dispose
 * these tensors themselves, and must copy (`clone`/`tf.keep`) anything they keep beyond the batch.
 */
export interface LoopContext {
  /** The learner running the fit. */
  readonly learner: Learner;
  /** The model being trained. */
  readonly model: LearnerModel;
  /** The optimizer (a tfjs optimizer is wrapped by `fromTfOptimizer`). */
  readonly optimizer: OptimizerLike;
  /** 0-based epoch within this fit. */
  readonly epoch: number;
  /** Epochs this fit runs. */
  readonly epochs: number;
  /**
   * Optimizer steps the learner completed before the current batch, over all fits (so during a batch it is the
   * 0-based index of the step this batch will take); it increases after `afterBatch` when the step was applied.
   */
  readonly step: number;
  /** Like `step`, counted from this fit's start. */
  readonly fitStep: number;
  /** 0-based batch index within the epoch (training phase). */
  readonly batchIndex: number;
  /** Batches per epoch, when the training source has a `length`. */
  readonly batchesPerEpoch: number | undefined;
  /** The current training batch; writable in `beforeBatch`. */
  batch: Batch | undefined;
  /** The model output for `batch.x`; writable in `afterPred`. */
  pred: tf.Tensor | undefined;
  /** The batch loss that will be differentiated; writable in `afterLoss`. */
  loss: tf.Scalar | undefined;
  /** Gradients of `loss` for the trainable variables that have one; writable in `afterBackward`. */
  grads: VariableGradient[] | undefined;
  /**
   * A live view of the optimizer's hyperparameters: reading gives the current value, writing
   * (`ctx.hypers.learningRate = 0.01`) sets it on the optimizer at once, so it applies to the next step. Writing an
   * unknown name throws an error listing the available ones.
   */
  readonly hypers: Record<string, number>;
  /** True in the training phase, false in validation. */
  readonly training: boolean;
  /** This fit's history, filled as the fit runs. */
  readonly history: History;
  /** The learner's seeded random stream (from `@convkit/core`); fork it for a plugin's own stream. */
  readonly rng: Rng;
  /**
   * The latest metrics: `train` is set at the end of each training phase (before `beforeValidate`), `valid` at the
   * end of each validation (before `afterValidate`); both hold the previous epoch's values until then.
   */
  readonly lastMetrics: LastMetrics;
  /** The learner's clock, in milliseconds. */
  now(): number;
  /**
   * The current batch's loss as a number (a device read, memoised). Valid from `afterBackward` to `afterBatch`;
   * call it only when you need the value per batch.
   */
  lossValue(): Promise<number>;
  /** The sample-weighted mean loss of this epoch's training batches so far (one device read for all unread ones). */
  runningLoss(): Promise<number>;
}

/** A live `Record<string, number>` over an optimizer's hyperparameters. */
export function hyperView(optimizer: OptimizerLike): Record<string, number> {
  const known = (name: string | symbol): name is string =>
    typeof name === 'string' && optimizer.hyperNames.includes(name);
  const fail = (name: string | symbol): never => {
    throw new Error(
      `"${String(name)}" is not a hyperparameter of the optimizer (available: ${optimizer.hyperNames.join(', ')})`
    );
  };
  return new Proxy({} as Record<string, number>, {
    get: (_target, name) => (known(name) ? optimizer.getHyper(name) : undefined),
    set: (_target, name, value: number) => {
      if (!known(name)) return fail(name);
      optimizer.setHyper(name, value);
      return true;
    },
    has: (_target, name) => known(name),
    ownKeys: () => [...optimizer.hyperNames],
    getOwnPropertyDescriptor: (_target, name) =>
      known(name)
        ? { value: optimizer.getHyper(name), writable: true, enumerable: true, configurable: true }
        : undefined,
    deleteProperty: (_target, name) => fail(name),
    defineProperty: (_target, name) => fail(name),
  });
}

/** A plain snapshot of the optimizer's hyperparameters. */
export function readHypers(optimizer: OptimizerLike): Record<string, number> {
  return Object.fromEntries(optimizer.hyperNames.map((name) => [name, optimizer.getHyper(name)]));
}
