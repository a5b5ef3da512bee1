// The loop's shared types: what a hook sees (LoopContext, LoopLearner), what a plugin is (Plugin), and the options
// of a Learner and its fits. Types only, importing nothing above them, so every import in the package points down:
// events/history/model/optimizer/batch-source → loop-types → context/plugin/dispatcher → fit-run → learner.
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '@convkit/core';
import type { FileSystem } from '@convkit/io';
import type { Batch, BatchSource } from './batch-source.js';
import type { Checkpoint, SavedCheckpoint } from './checkpoint-state.js';
import type { PluginEvent } from './events.js';
import type { History, LastMetrics } from './history.js';
import type { LossFunction, LossName } from './losses.js';
import type { Metric } from './metrics.js';
import type { LearnerModel } from './model.js';
import type { OptimizerLike, VariableGradient } from './optimizer.js';

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
  readonly learner: LoopLearner;
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
   * unknown name throws an error listing the available ones. With parameter groups a plain name reads group 0 and
   * writes every group; `ctx.hypers['learningRate/1']` reads or writes group 1 only (`/0` group 0 only).
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

/** Options of {@link LoopLearner.validate} and {@link LoopLearner.predict}. */
export interface EvaluateOptions {
  /**
   * Stops the run at the next batch boundary when aborted; the call then rejects with an `Interrupted` error.
   * SIGINT (Ctrl-C, a Jupyter kernel interrupt) does the same while the call runs. Defaults to none.
   */
  signal?: AbortSignal;
}

/**
 * The learner as hooks see it (`ctx.learner`): the public surface of `Learner`, declared here so that the loop's
 * types need not import the class. `Learner` implements it.
 */
export interface LoopLearner {
  /** The model being trained. */
  readonly model: LearnerModel;
  /** The optimizer. */
  readonly optimizer: OptimizerLike;
  /** Training batches. */
  readonly train: BatchSource;
  /** Validation batches, if any. */
  readonly valid: BatchSource | undefined;
  /** The metrics recorded besides the loss. */
  readonly metrics: readonly Metric[];
  /** The seeded random stream handed to plugins as `ctx.rng`. */
  readonly rng: Rng;
  /** The current fit's history while it runs, else the last fit's. */
  readonly history: History;
  /** The learner's own plugins, in registration order. */
  readonly plugins: readonly Plugin[];
  /** Optimizer steps taken over the learner's life. */
  readonly stepCount: number;
  /** Adds a plugin for every later fit. */
  addPlugin(p: Plugin): void;
  /** Removes the plugin named `name` and returns it. */
  removePlugin(name: string): Plugin;
  /** Trains for `epochs` epochs (see `Learner.fit`). */
  fit(epochs: number, options?: FitOptions): Promise<History>;
  /** Saves a checkpoint of the run into the new directory `directory` (see `Learner.saveCheckpoint`). */
  saveCheckpoint(directory: string, options?: SaveCheckpointOptions): Promise<SavedCheckpoint>;
  /** Evaluates the model on `data` or `valid` (see `Learner.validate`). */
  validate(data?: BatchSource, options?: EvaluateOptions): Promise<Record<string, number>>;
  /** Runs the model on a tensor or a source; the caller disposes the result (see `Learner.predict`). */
  predict(x: tf.Tensor | BatchSource, options?: EvaluateOptions): Promise<tf.Tensor>;
  /** Describes the loop's events and the plugins at each. */
  describeLoop(): string;
}

/**
 * What a plugin may change, declared so that two plugins fighting over one thing are caught before training:
 * `'batch'` (beforeBatch), `'pred'` (afterPred), `'loss'` (afterLoss), `'grads'` (afterBackward),
 * `` `hyper.${name}` `` (an optimizer hyperparameter such as `hyper.learningRate`) and `` `param.${name}` `` (a
 * schedulable parameter in a plugin's own namespace, e.g. `param.augment.strength`).
 */
export type WriteTarget = 'batch' | 'pred' | 'loss' | 'grads' | `hyper.${string}` | `param.${string}`;

/**
 * The hooks of a plugin, one optional function per event of {@link PLUGIN_EVENTS}.
 *
 * `afterPred` and `afterLoss` are synchronous on purpose: they run inside the gradient tape (`tf.variableGrads`),
 * which records only while the taped function runs, so an `await` would cut the recording and the loss would
 * lose its gradient. Every other hook may return a promise, which the loop awaits.
 */
export interface PluginHooks {
  /** Once, before the first epoch. Plugins reset their own state here; may set `ctx.hypers`. */
  beforeFit?(ctx: LoopContext): void | Promise<void>;
  /** Before each epoch's first batch; may set `ctx.hypers`. */
  beforeEpoch?(ctx: LoopContext): void | Promise<void>;
  /** With `ctx.batch` from the training source; may replace it (write target `'batch'`): the replaced tensors are disposed unless reused. */
  beforeBatch?(ctx: LoopContext): void | Promise<void>;
  /** After the forward pass, inside the gradient tape, so synchronous; may replace `ctx.pred` (`'pred'`). */
  afterPred?(ctx: LoopContext): void;
  /** After the loss, inside the gradient tape, so synchronous; may replace `ctx.loss` (`'loss'`), e.g. to scale or regularise it. */
  afterLoss?(ctx: LoopContext): void;
  /** With `ctx.grads` (`{ variable, gradient }[]`); may replace or drop gradients (`'grads'`), which the learner then disposes. */
  afterBackward?(ctx: LoopContext): void | Promise<void>;
  /** Just before `optimizer.applyGradients`; hyperparameters set here (`'hyper.<name>'`) are used by this very step. Throw `CancelStep` to skip it. */
  beforeStep?(ctx: LoopContext): void | Promise<void>;
  /** After the optimizer update. */
  afterStep?(ctx: LoopContext): void | Promise<void>;
  /** After each batch, also a cancelled one; `await ctx.lossValue()` reads this batch's loss. */
  afterBatch?(ctx: LoopContext): void | Promise<void>;
  /** After the training phase, with `ctx.lastMetrics.train` set and `ctx.training` false. */
  beforeValidate?(ctx: LoopContext): void | Promise<void>;
  /** With `ctx.lastMetrics.valid` set. */
  afterValidate?(ctx: LoopContext): void | Promise<void>;
  /** After the epoch is recorded in `ctx.history.epochs`; may set `ctx.hypers`, or throw `CancelFit` to stop early. */
  afterEpoch?(ctx: LoopContext): void | Promise<void>;
  /** Always, also after a cancel or an error; free long-lived tensors here. */
  afterFit?(ctx: LoopContext): void | Promise<void>;
  /** When the fit was cancelled by `CancelFit`, just before `afterFit`. */
  afterCancelFit?(ctx: LoopContext): void | Promise<void>;
  /** When an epoch was cancelled by `CancelEpoch`, just before `afterEpoch`. */
  afterCancelEpoch?(ctx: LoopContext): void | Promise<void>;
  /** When a batch was cancelled by `CancelBatch`, just before `afterBatch`. */
  afterCancelBatch?(ctx: LoopContext): void | Promise<void>;
  /** When a step was cancelled by `CancelStep`, just before `afterStep`. */
  afterCancelStep?(ctx: LoopContext): void | Promise<void>;
  /** When the validation was cancelled by `CancelValidate`, just before `afterValidate`. */
  afterCancelValidate?(ctx: LoopContext): void | Promise<void>;
}

/** Compile-time proof that {@link PluginHooks} has exactly one hook per {@link PluginEvent}, no more, no less. */
type HooksMatchEvents = [keyof PluginHooks] extends [PluginEvent]
  ? [PluginEvent] extends [keyof PluginHooks]
    ? true
    : never
  : never;
const hooksMatchEvents: HooksMatchEvents = true;
void hooksMatchEvents;

/**
 * A plugin: a plain object with a name, optional ordering and write declarations, optional state for
 * checkpoints, and optional hooks (see {@link PluginHooks}). No base class; factories return plugins.
 *
 * - `order`: plugins run in a stable sort by `order`, lower first. Defaults to 0. The README has the table of the
 *   built-in plugins' orders.
 * - `writes`: what the plugin changes (see {@link WriteTarget}). `fit` refuses two plugins that write the same
 *   target unless both give distinct `priority` values. Defaults to none.
 * - `priority`: settles a shared write target: the higher-priority plugin's hooks run after the other's in every
 *   event they share, so its value wins — even where `order` says otherwise (for that pair only).
 * - `getState`/`setState`: JSON-serialisable state for checkpoints and resume. `learner.saveCheckpoint` (and the
 *   `checkpoint` plugin) stores each plugin's `getState()` under its name; `fit(epochs, { resume })` calls
 *   `setState(saved)` after `beforeFit` (so the plugin first resets itself, then takes the saved state). A plugin
 *   that draws random numbers or counts anything across batches must keep that here (e.g. its `Rng` state), or a
 *   resumed run will differ from an uninterrupted one.
 *
 * A plugin resets its own state in `beforeFit`, so one object can serve several fits.
 *
 * @example
 * ```ts
 * import type { Plugin } from '@convkit/learner';
 * const halveEveryEpoch: Plugin = {
 *   name: 'halveEveryEpoch',
 *   order: 10,
 *   writes: ['hyper.learningRate'],
 *   afterEpoch(ctx) { ctx.hypers.learningRate = ctx.hypers.learningRate / 2; },
 * };
 * ```
 */
export interface Plugin extends PluginHooks {
  /** Unique among the learner's plugins; used in messages and `describeLoop()`. */
  readonly name: string;
  /** Position in each event's hook list, lower first. Defaults to 0. */
  readonly order?: number;
  /** What the plugin changes. Defaults to none. */
  readonly writes?: readonly WriteTarget[];
  /** Settles shared write targets: the higher priority runs last and wins. */
  readonly priority?: number;
  /** Returns the plugin's JSON-serialisable state (saved in checkpoints under the plugin's name). */
  getState?(): unknown;
  /** Restores a state returned by `getState` (called on resume, after `beforeFit`); throws on a state it cannot take. */
  setState?(state: unknown): void;
}

/** Options of `Learner`. */
export interface LearnerOptions {
  /** A `tf.LayersModel` or a {@link FunctionModel}. Not disposed by the learner. */
  model: LearnerModel;
  /** A built-in loss name or a function `(pred, y) => tf.Scalar` (see `resolveLoss`). */
  loss: LossName | LossFunction;
  /** An {@link OptimizerLike}, or a `tf.Optimizer` (wrapped by `fromTfOptimizer`). Not disposed by the learner. */
  optimizer: OptimizerLike | tf.Optimizer;
  /** Training batches; each iteration is one epoch. The learner disposes every batch it receives. */
  train: BatchSource;
  /** Validation batches, evaluated after each epoch's training. Defaults to none. */
  valid?: BatchSource;
  /** Metrics besides the loss. Defaults to `[accuracy()]` for the classification losses, `[]` otherwise. */
  metrics?: Metric[];
  /** Plugins for every fit. Defaults to none (no hidden defaults). */
  plugins?: Plugin[];
  /** Seed of the `Rng` on `ctx.rng`. Defaults to 0. */
  seed?: number;
  /**
   * Fail a fit whose tensor count grows — from the first completed step to the end of the first epoch's training,
   * then from epoch end to epoch end — naming the culprit: a plugin hook (with its event) or the loss function.
   * Defaults to false.
   */
  leakGuard?: boolean;
  /**
   * Checked mode: after every hook, compare the optimizer's hyperparameters with their values before it, and fail
   * the fit, naming the plugin and event, when a plugin changed one it did not declare in `writes`
   * (`'hyper.<name>'`), so the write-conflict check cannot be bypassed silently. Costs a few number reads per hook.
   * Defaults to false.
   */
  checkWrites?: boolean;
  /** The clock in milliseconds. Defaults to `performance.now`. */
  now?: () => number;
}

/** Options of `Learner.fit`. */
export interface FitOptions {
  /** Extra plugins for this fit only, ordered with the learner's own. Defaults to none. */
  plugins?: Plugin[];
  /**
   * Continue the run saved in a checkpoint: a checkpoint directory, a directory of checkpoints (its manifest's
   * latest), or a {@link Checkpoint} from `loadCheckpoint`. `epochs` is then the total of the original fit: the
   * fit continues at the saved epoch and batch. Defaults to none (a fresh fit).
   */
  resume?: string | Checkpoint;
  /** The file system to read `resume` from. Defaults to Node's. */
  fileSystem?: FileSystem;
  /**
   * Interrupts the fit when aborted: it stops at the next batch boundary, runs `afterFit`, keeps the weights,
   * optimizer state and history of the last completed step, and rejects with `FitInterrupted`. SIGINT (Ctrl-C, a
   * Jupyter kernel interrupt) does the same while the fit runs. Defaults to none.
   */
  signal?: AbortSignal;
}

/** Options of `Learner.saveCheckpoint`. */
export interface SaveCheckpointOptions {
  /** The file system to write with (tests inject failures here). Defaults to Node's, with fsync. */
  fileSystem?: FileSystem;
}

