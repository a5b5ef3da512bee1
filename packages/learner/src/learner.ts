import type * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '@convkit/core';
import { checkBatchSource, type BatchSource } from './batch-source.js';
import { describeLoop } from './describe-loop.js';
import { evaluate, predictWith } from './evaluate.js';
import { FitRun } from './fit-run.js';
import { emptyHistory, type History } from './history.js';
import { LOSS_NAMES, resolveLoss, type LossFunction, type LossName } from './losses.js';
import { accuracy, checkMetrics, type Metric } from './metrics.js';
import { adaptModel, type LearnerModel, type ModelAdapter } from './model.js';
import { checkOptimizerHypers, toOptimizerLike, type OptimizerLike } from './optimizer.js';
import { checkWrites, orderPlugins, validatePlugin, type Plugin } from './plugin.js';
import { nodeFileSystem } from './checkpoint-io.js';
import { idleState, prepareResume, type LearnerParts } from './checkpoint-resume.js';
import type { CheckpointState, SavedCheckpoint } from './checkpoint-state.js';
import { writeCheckpoint } from './checkpoint-write.js';
import { interruptible, type Interruption } from './interrupt.js';
import type {
  EvaluateOptions,
  FitOptions,
  LearnerOptions,
  LoopLearner,
  SaveCheckpointOptions,
} from './loop-types.js';

export type { EvaluateOptions, FitOptions, LearnerOptions, SaveCheckpointOptions } from './loop-types.js';

/**
 * The training loop: runs epochs of batches through a model, differentiates the loss, steps the optimizer, and
 * fires an event at every stage for plugins to observe or change what the loop owns at that point (see
 * `LOOP_EVENTS` and `LoopContext`). Schedulers, augmentation, early stopping, checkpoints and progress output are
 * all plugins.
 *
 * Why a learner and not `model.fit`: every stage is a named, typed hook; hyperparameters are live and schedulable;
 * plugins stop the loop with typed signals rather than flags; and the loop's tensors have a clear owner.
 *
 * Each step: `beforeBatch` → forward pass and loss inside `tf.variableGrads` (with `afterPred`, `afterLoss`) →
 * `afterBackward` → `beforeStep` → `optimizer.applyGradients` → `afterStep` → `afterBatch`; the batch, prediction,
 * loss and gradients are then disposed. The loss stays on the device; losses are read in one batch at the epoch end.
 *
 * Ownership: the learner disposes the batches it receives and the tensors it makes; it never disposes the model,
 * the optimizer, or tensors passed to `predict`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { Learner } from '@convkit/learner';
 * await tf.setBackend('cpu');
 * const w = tf.variable(tf.zeros([1, 1]));
 * const b = tf.variable(tf.zeros([1]));
 * const batches = [0, 1, 2, 3].map((i) => () => {
 *   const x = tf.tensor2d([i, i + 0.5], [2, 1]);
 *   return { x, y: tf.tidy(() => tf.add(tf.mul(x, 2), 1)) };
 * });
 * const learner = new Learner({
 *   model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
 *   loss: 'meanSquaredError',
 *   optimizer: tf.train.sgd(0.05),
 *   train: { *[Symbol.iterator]() { for (const make of batches) yield make(); }, length: batches.length },
 * });
 * const history = await learner.fit(200);
 * console.log(history.epochs.at(-1)?.train.loss, (await w.data())[0], (await b.data())[0]); // ≈ 0, 2, 1
 * ```
 */
export class Learner implements LoopLearner {
  /** The model being trained. */
  readonly model: LearnerModel;
  /** The optimizer (a `tf.Optimizer` given in the options is wrapped by `fromTfOptimizer`). */
  readonly optimizer: OptimizerLike;
  /** Training batches. */
  readonly train: BatchSource;
  /** Validation batches, if any. */
  readonly valid: BatchSource | undefined;
  /** The metrics recorded besides the loss. */
  readonly metrics: readonly Metric[];
  /** The seeded random stream handed to plugins as `ctx.rng`. */
  readonly rng: Rng;
  private readonly adapter: ModelAdapter;
  private readonly lossFn: LossFunction;
  private readonly now: () => number;
  private readonly leakGuard: boolean;
  private readonly checkWrites: boolean;
  private readonly classification: boolean;
  private readonly ownPlugins: Plugin[] = [];
  private readonly steps = { count: 0 };
  private currentHistory: History = emptyHistory();
  private running: FitRun | undefined;
  private lastFitStartHypers: Record<string, number> | undefined;

  constructor(options: LearnerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new Error(`options must be an object (received ${String(options)})`);
    }
    this.adapter = adaptModel(options.model);
    this.model = options.model;
    this.lossFn = resolveLoss(options.loss);
    this.optimizer = toOptimizerLike(options.optimizer);
    checkBatchSource(options.train, 'train');
    this.train = options.train;
    if (options.valid !== undefined) checkBatchSource(options.valid, 'valid');
    this.valid = options.valid;
    const classification = typeof options.loss === 'string' && LOSS_NAMES[options.loss].classification;
    this.classification = classification;
    const metrics = options.metrics ?? (classification ? [accuracy()] : []);
    checkMetrics(metrics);
    this.metrics = [...metrics];
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer (received ${String(seed)})`);
    this.rng = createRng(seed);
    if (options.leakGuard !== undefined && typeof options.leakGuard !== 'boolean') {
      throw new Error(`leakGuard must be a boolean (received ${String(options.leakGuard)})`);
    }
    this.leakGuard = options.leakGuard ?? false;
    if (options.checkWrites !== undefined && typeof options.checkWrites !== 'boolean') {
      throw new Error(`checkWrites must be a boolean (received ${String(options.checkWrites)})`);
    }
    this.checkWrites = options.checkWrites ?? false;
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new Error(`now must be a function returning milliseconds (received ${typeof options.now})`);
    }
    this.now = options.now ?? (() => performance.now());
    for (const p of options.plugins ?? []) this.addPlugin(p);
  }

  /** The current fit's history while it runs, else the last fit's (empty before the first fit). */
  get history(): History {
    return this.currentHistory;
  }

  /** The learner's own plugins, in registration order (`fit` sorts them by `order`). */
  get plugins(): readonly Plugin[] {
    return [...this.ownPlugins];
  }

  /** Optimizer steps taken over the learner's life. */
  get stepCount(): number {
    return this.steps.count;
  }

  /** Adds a plugin for every later fit (a fit already running keeps its plugins). Names must be unique. */
  addPlugin(p: Plugin): void {
    validatePlugin(p);
    if (this.ownPlugins.some((other) => other.name === p.name)) {
      throw new Error(`a plugin named "${p.name}" is already added; plugin names must be unique`);
    }
    this.ownPlugins.push(p);
  }

  /** Removes the plugin named `name` and returns it; throws if there is none. */
  removePlugin(name: string): Plugin {
    const index = this.ownPlugins.findIndex((p) => p.name === name);
    if (index < 0) {
      const names = this.ownPlugins.map((p) => p.name).join(', ') || 'none';
      throw new Error(`no plugin named "${name}" to remove (plugins: ${names})`);
    }
    return this.ownPlugins.splice(index, 1)[0]!;
  }

  /**
   * Trains for `epochs` epochs. Before the first step it checks the plugins' declared writes (throwing
   * `PluginConflictError`) and orders them, and checks the optimizer's hyperparameters (a learning rate made NaN,
   * infinite or negative, e.g. by `tf.train.sgd(NaN)`, is an error). Resolves with this fit's history — also when a
   * plugin cancels the fit (`history.stopReason` says why); rejects on errors, after `afterFit` has run.
   *
   * Interrupts: while the fit runs, SIGINT (Ctrl-C, a Jupyter kernel interrupt) or an abort of `options.signal`
   * stops it at the next batch boundary; `afterFit` runs, the weights, optimizer state and history of the last
   * completed step stay, and the fit rejects with `FitInterrupted` ("fit interrupted at epoch E, batch B"). The
   * SIGINT listener exists only while the fit runs.
   *
   * @param epochs - A positive integer.
   * @param options - `plugins`: extra plugins for this fit only; `resume`; `fileSystem`; `signal`.
   */
  async fit(epochs: number, options: FitOptions = {}): Promise<History> {
    if (!Number.isInteger(epochs) || epochs <= 0) {
      throw new Error(`epochs must be a positive integer (received ${String(epochs)})`);
    }
    if (this.running !== undefined) throw new Error('fit is already running on this learner');
    const plugins = this.fitPlugins(options.plugins ?? []);
    const interruption = interruptible(options.signal);
    try {
      return await this.runFit(epochs, options, plugins, interruption);
    } finally {
      interruption.dispose();
    }
  }

  private async runFit(epochs: number, options: FitOptions, plugins: Plugin[], interruption: Interruption): Promise<History> {
    const resume =
      options.resume === undefined
        ? undefined
        : await prepareResume(this.parts(), options.resume, epochs, options.fileSystem ?? nodeFileSystem);
    checkOptimizerHypers(this.optimizer);
    const history = emptyHistory();
    if (resume !== undefined) {
      history.epochs.push(...structuredClone(resume.history.epochs));
      history.steps.push(...structuredClone(resume.history.steps));
    }
    this.currentHistory = history;
    const run = new FitRun(
      {
        learner: this,
        model: this.model,
        adapter: this.adapter,
        optimizer: this.optimizer,
        lossFn: this.lossFn,
        metrics: this.metrics,
        train: this.train,
        valid: this.valid,
        rng: this.rng,
        now: this.now,
        leakGuard: this.leakGuard,
        checkWrites: this.checkWrites,
        checkLabels: this.classification,
        steps: this.steps,
        history,
        interruption,
      },
      plugins,
      epochs,
      resume
    );
    this.running = run;
    this.lastFitStartHypers = run.fitStartHypers;
    try {
      await run.run();
    } finally {
      this.running = undefined;
    }
    return history;
  }

  /**
   * Saves a checkpoint of the run into the new directory `directory`: the model (`model.json` in the tfjs-layers
   * format, with the topology for a `tf.LayersModel`, and `weights.bin`) and `state.json` (optimizer slots and
   * hyperparameters, the learner's `Rng`, epoch, batch and step, the history, every plugin's `getState()` and the
   * training source's `getState()`). During a fit, call it from `afterBatch` or `afterEpoch` (the `checkpoint`
   * plugin does); between fits it saves the state the last fit ended in.
   *
   * The write is atomic: every file goes into a temporary directory beside `directory`, each fsynced, then one
   * rename; a crash leaves no partial checkpoint under `directory`. `directory` must not exist yet.
   *
   * @returns Where and what was saved.
   */
  async saveCheckpoint(directory: string, options: SaveCheckpointOptions = {}): Promise<SavedCheckpoint> {
    if (typeof directory !== 'string' || directory === '') {
      throw new Error(`directory must be a non-empty path (received ${JSON.stringify(directory)})`);
    }
    const partial =
      this.running !== undefined
        ? await this.running.captureState()
        : await idleState({
            ...this.parts(),
            history: this.currentHistory,
            plugins: this.ownPlugins,
            fitStartHypers: this.lastFitStartHypers,
          });
    const state: CheckpointState = {
      format: 'convkit-checkpoint',
      version: 1,
      savedAt: new Date().toISOString(),
      ...partial,
    };
    return writeCheckpoint(options.fileSystem ?? nodeFileSystem, directory, this.model, state);
  }

  /**
   * Evaluates the model (`training: false`) on `data`, or on `valid` when omitted, and returns the sample-weighted
   * mean loss and each metric. Fires no events. Disposes the batches it reads. May be called from plugins, except
   * during a fit's training phase (it would reset the running training metrics). SIGINT or an abort of
   * `options.signal` stops it at the next batch with an `Interrupted` error ("validate interrupted at batch B").
   */
  async validate(data?: BatchSource, options: EvaluateOptions = {}): Promise<Record<string, number>> {
    if (this.running?.inTrainingPhase) {
      throw new Error('validate() cannot run during the training phase of a fit; call it from afterEpoch or later');
    }
    const source = data ?? this.valid;
    if (data !== undefined) checkBatchSource(data, 'data');
    if (source === undefined) throw new Error('validate needs data: pass a BatchSource or give the learner `valid`');
    const interruption = interruptible(options.signal);
    try {
      return await evaluate(this.adapter, this.lossFn, this.metrics, source, data === undefined ? 'valid' : 'data', {
        boundary: (index) => interruption.boundary('validate', `batch ${index}`),
        checkLabels: this.classification,
      });
    } finally {
      interruption.dispose();
    }
  }

  /**
   * Runs the model with `training: false` on a tensor, or on each batch of a source (outputs concatenated along the
   * first axis). Returns a new tensor that the caller disposes. Disposes a source's batches; never disposes a
   * tensor `x`. SIGINT or an abort of `options.signal` stops a source's run at the next batch with an `Interrupted`
   * error ("predict interrupted at batch B"), and nothing is returned.
   */
  async predict(x: tf.Tensor | BatchSource, options: EvaluateOptions = {}): Promise<tf.Tensor> {
    const interruption = interruptible(options.signal);
    try {
      return await predictWith(this.adapter, x, (index) => interruption.boundary('predict', `batch ${index}`));
    } finally {
      interruption.dispose();
    }
  }

  /**
   * Describes the loop: every event, indented by level, with the plugins that run there in call order and their
   * `order` (cancel events only when hooked), like fastai's `show_training_loop`.
   */
  describeLoop(): string {
    return describeLoop(() => this.fitPlugins([]));
  }

  private parts(): LearnerParts {
    const { model, optimizer, train, rng, steps } = this;
    return { model, optimizer, train, rng, steps };
  }

  private fitPlugins(extra: readonly Plugin[]): Plugin[] {
    const all = [...this.ownPlugins];
    for (const p of extra) {
      validatePlugin(p);
      if (all.some((other) => other.name === p.name)) {
        throw new Error(`a plugin named "${p.name}" is already added; plugin names must be unique`);
      }
      all.push(p);
    }
    return orderPlugins(all, checkWrites(all, this.optimizer.hyperNames));
  }
}
