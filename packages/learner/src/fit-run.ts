import * as tf from '@tensorflow/tfjs';
import { assertBackendHealthy, backendDeviceError, type Rng } from '@convkit/core';
import { checkBatch, disposeBatch, sourceLength, type Batch, type BatchSource } from './batch-source.js';
import { hyperView, readHypers } from './context.js';
import { Dispatcher } from './dispatcher.js';
import { evaluate } from './evaluate.js';
import type { History } from './history.js';
import { FitInterrupted, Interrupted, nextMacrotask, type Interruption } from './interrupt.js';
import { LeakGuard } from './leak-guard.js';
import { LossBuffer, type LossEntry } from './loss-buffer.js';
import type { LossFunction } from './losses.js';
import type { LoopContext, LoopLearner, Plugin } from './loop-types.js';
import type { Metric } from './metrics.js';
import type { LearnerModel, ModelAdapter } from './model.js';
import type { OptimizerLike, VariableGradient } from './optimizer.js';
import { CancelSignal, withEvents, type EventRuntime } from './signals.js';
import { tapedForward } from './taped-forward.js';
import { BatchOwnership } from './batch-ownership.js';
import {
  captureRun,
  restoreHypers,
  restoreMetrics,
  restorePlugins,
  restoreSource,
  type CapturedState,
} from './checkpoint-resume.js';
import type { CheckpointState } from './checkpoint-state.js';
import { StepChecks } from './step-checks.js';
import { stepFailure, TrainingStepError } from './step-error.js';

/** What a fit needs from its learner. */
export interface FitSetup {
  learner: LoopLearner;
  model: LearnerModel;
  adapter: ModelAdapter;
  optimizer: OptimizerLike;
  lossFn: LossFunction;
  metrics: readonly Metric[];
  train: BatchSource;
  valid: BatchSource | undefined;
  rng: Rng;
  now: () => number;
  leakGuard: boolean;
  /** Checked mode: undeclared hyperparameter writes by plugins are errors. */
  checkWrites: boolean;
  /** Check class-index labels against the model's output units (the built-in classification losses). */
  checkLabels: boolean;
  /** The learner's lifetime step counter, advanced by the fit. */
  steps: { count: number };
  history: History;
  /** SIGINT and the fit's `signal`: checked at every batch boundary. */
  interruption: Interruption;
}

type MutableContext = { -readonly [K in keyof LoopContext]: LoopContext[K] };

/** One run of `learner.fit`: the epoch, batch and step levels on top of `withEvents`. */
export class FitRun {
  readonly ctx: MutableContext;
  private readonly dispatcher: Dispatcher;
  private readonly runtime: EventRuntime;
  private readonly leakGuard: LeakGuard | undefined;
  private readonly losses: LossBuffer;
  private readonly fitStartStep: number;
  /** The hyperparameters at the fit's start (before beforeFit), or the resumed fit's original ones. */
  readonly fitStartHypers: Record<string, number>;
  private epochStart = 0;
  private trainMetrics: Record<string, number> | undefined;
  private validMetrics: Record<string, number> = {};
  private currentLoss: LossEntry | undefined;
  private stepApplied = false;
  private readonly owned: BatchOwnership;
  /** The event whose hooks are running (only for events fired through the runtime). */
  private event: string | undefined;
  /** Batches of the resumed epoch that the loop skips itself (a plain source), and where that epoch starts. */
  private skipBatches = 0;
  private resumeBatch = 0;
  /** Training batches of the current epoch completed (for interrupt messages). */
  private batchesDone = 0;
  private readonly checks: StepChecks;
  /** The last training batch begun: its input shape and where the loop stood (for a device failure's error). */
  private lastInput: { shape: readonly number[]; where: { epoch: number; batch: number; step: number } } | undefined;
  /** The backend failure found after a device read: the fit's error, also when a plugin's read found it. */
  private backendFailure: TrainingStepError | undefined;
  /** True while batches are being trained on (validate() must not reset the metrics then). */
  inTrainingPhase = false;

  constructor(
    private readonly setup: FitSetup,
    private readonly plugins: readonly Plugin[],
    epochs: number,
    private readonly resume: CheckpointState | undefined = undefined
  ) {
    const history = setup.history;
    this.losses = new LossBuffer(history, (readError) => this.checkBackend(readError));
    this.leakGuard = setup.leakGuard ? new LeakGuard() : undefined;
    this.fitStartStep = setup.steps.count - (resume?.position.fitStep ?? 0);
    this.fitStartHypers = resume?.fitStartHypers ?? readHypers(setup.optimizer);
    this.ctx = {
      learner: setup.learner,
      model: setup.model,
      optimizer: setup.optimizer,
      epoch: 0,
      epochs,
      step: setup.steps.count,
      fitStep: setup.steps.count - this.fitStartStep,
      batchIndex: 0,
      batchesPerEpoch: sourceLength(setup.train),
      batch: undefined,
      pred: undefined,
      loss: undefined,
      grads: undefined,
      hypers: hyperView(setup.optimizer),
      training: true,
      history,
      rng: setup.rng,
      lastMetrics: { train: {}, valid: {} },
      now: setup.now,
      lossValue: () =>
        this.currentLoss === undefined
          ? Promise.reject(new Error('ctx.lossValue() is valid from afterBackward to afterBatch'))
          : this.losses.valueOf(this.currentLoss),
      runningLoss: () => this.losses.mean(),
    };
    this.owned = new BatchOwnership(this.ctx);
    this.dispatcher = new Dispatcher(plugins, this.ctx, this.leakGuard, setup.checkWrites ? setup.optimizer : undefined);
    this.checks = new StepChecks(setup.lossFn, this.leakGuard, this.dispatcher, this.losses);
    this.runtime = {
      activeLevels: this.dispatcher.activeLevels,
      fire: async (event) => {
        if (event === 'beforeEpoch' && this.resumeBatch > 0) return; // the resumed epoch had its beforeEpoch
        this.event = event;
        try {
          await this.dispatcher.fire(event, event === 'beforeBatch' ? () => this.owned.settleBatch() : undefined);
        } finally {
          this.event = undefined;
        }
      },
      onCancel: (signal) => {
        if (signal.level === 'fit') history.stopReason = describeCancel(signal);
      },
    };
  }

  /** Runs the fit; resolves when `afterFit` has run. Rethrows real errors after `afterFit`. */
  async run(): Promise<void> {
    const { ctx } = this;
    try {
      await withEvents(
        'fit',
        async () => {
          try {
            const first = this.resume === undefined ? 0 : this.restore(this.resume);
            for (let epoch = first; epoch < ctx.epochs; epoch++) {
              this.startEpoch(epoch);
              await withEvents('epoch', () => this.runEpoch(), this.runtime, { settle: () => this.finishEpoch() });
              this.resumeBatch = 0;
              this.skipBatches = 0;
              this.leakGuard?.check(tf.memory().numTensors - this.losses.held, `epoch ${epoch + 1}`);
            }
          } catch (error) {
            // An interrupt keeps the history of every completed step: read their losses before afterFit.
            if (error instanceof Interrupted) await this.losses.resolve().catch(() => undefined);
            throw error;
          }
          ctx.history.stopReason = 'completed';
        },
        this.runtime,
        {
          settle: () => this.losses.resolve(),
          onFailure: (error) => {
            const reported = this.backendFailure ?? error;
            ctx.history.stopReason =
              reported instanceof FitInterrupted
                ? reported.message
                : `error: ${reported instanceof Error ? reported.message : String(reported)}`;
          },
        }
      );
    } catch (error) {
      // A plugin's read (a checkpoint's, say) may have found the failure: it is the fit's error, not the plugin's.
      throw this.backendFailure ?? error;
    } finally {
      this.losses.clear();
      for (const metric of this.setup.metrics) metric.reset();
    }
  }

  /**
   * After each device read of the losses (every epoch end, and wherever a plugin reads them): stops the fit with a
   * {@link TrainingStepError} naming the backend, the last step and its input shape when the device was lost or
   * refused an allocation (`assertBackendHealthy` of `@convkit/core`). A failed read waits up to a second for the
   * device to say why (WebGPU reports a lost device asynchronously).
   */
  private async checkBackend(readError: unknown): Promise<void> {
    if (this.lastInput === undefined) return;
    if (readError !== undefined && tf.getBackend() === 'webgpu') {
      for (let waited = 0; waited < 1000 && backendDeviceError() === undefined; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    const { shape, where } = this.lastInput;
    try {
      assertBackendHealthy(`step ${where.step}, input [${shape.join(', ')}]`);
    } catch (error) {
      this.backendFailure = new TrainingStepError('the device read after the step', where, error);
      throw this.backendFailure;
    }
  }

  private startEpoch(epoch: number): void {
    this.ctx.epoch = epoch;
    this.epochStart = this.setup.now();
    this.trainMetrics = undefined;
    this.validMetrics = {};
    this.losses.clear();
    for (const metric of this.setup.metrics) metric.reset();
    if (this.resumeBatch > 0) {
      this.losses.restore(this.resume!.epochLosses);
      restoreMetrics(this.setup.metrics, this.resume!.metrics);
    }
  }

  /**
   * Resumes from a checkpoint, after `beforeFit` (where plugins reset themselves): the learner's `Rng`, the
   * hyperparameters, every plugin's state and the training source's position. Weights, optimizer slots, the step
   * counter and the history were restored before the fit. Returns the epoch to start with.
   */
  private restore(state: CheckpointState): number {
    const { ctx, setup } = this;
    setup.rng.setState(state.rng);
    restoreHypers(setup.optimizer, state.hypers);
    restorePlugins(this.plugins, state.plugins);
    this.skipBatches = restoreSource(setup.train, state.train, state.position.batch);
    this.resumeBatch = state.position.batch;
    ctx.lastMetrics.train = { ...state.lastMetrics.train };
    ctx.lastMetrics.valid = { ...state.lastMetrics.valid };
    return state.position.epoch;
  }

  /**
   * Everything of the run but the weights, for a checkpoint. Valid in `afterBatch` (the batch's step counts as
   * done) and `afterEpoch` (the next epoch is the one to continue); elsewhere in a fit it throws.
   */
  async captureState(): Promise<CapturedState> {
    if (this.event !== 'afterBatch' && this.event !== 'afterEpoch') {
      throw new Error(
        `a checkpoint can be saved during a fit only in afterBatch or afterEpoch (called during ${this.event ?? 'a taped or internal step'})`
      );
    }
    await this.losses.resolve();
    const inBatch = this.event === 'afterBatch';
    return captureRun({
      ...this.setup,
      plugins: this.plugins,
      ctx: this.ctx,
      step: this.setup.steps.count + (inBatch && this.stepApplied ? 1 : 0),
      fitStartStep: this.fitStartStep,
      fitStartHypers: this.fitStartHypers,
      inBatch,
      epochLosses: inBatch ? this.losses.snapshot() : [],
      metrics: this.setup.metrics,
    });
  }

  private async runEpoch(): Promise<void> {
    const { ctx, setup } = this;
    this.inTrainingPhase = true;
    let index = this.resumeBatch - this.skipBatches;
    this.batchesDone = this.resumeBatch;
    const finished = ctx.batchesPerEpoch !== undefined && this.resumeBatch >= ctx.batchesPerEpoch;
    try {
      for await (const batch of finished ? [] : setup.train) {
        if (this.skipBatches > 0) {
          this.skipBatches--;
          disposeBatch(batch as Partial<Batch>);
          index++;
          continue;
        }
        await nextMacrotask(); // a batch boundary: let SIGINT and abort timers run
        if (setup.interruption.interrupted) {
          disposeBatch(batch as Partial<Batch>);
          this.throwInterrupted();
        }
        this.beginBatch(batch, index);
        try {
          await withEvents('batch', () => this.runBatch(), this.runtime);
        } finally {
          this.endBatch();
        }
        index++;
        this.batchesDone = index;
      }
    } finally {
      this.inTrainingPhase = false;
    }
    await nextMacrotask(); // the boundary after the epoch's last batch
    if (setup.interruption.interrupted) this.throwInterrupted();
    if (this.leakGuard !== undefined && ctx.epoch === 0 && this.leakGuard.started) {
      this.leakGuard.check(tf.memory().numTensors - this.losses.held, "epoch 1's training (from its first step)");
    }
    if (index === 0 && this.resumeBatch === 0) {
      throw new Error(
        `train yielded no batches in epoch ${ctx.epoch + 1}; a BatchSource must be re-iterable, each iteration ` +
          'one epoch, and not empty'
      );
    }
    await this.finishTraining();
    if (setup.valid === undefined) return;
    ctx.training = false;
    try {
      await withEvents('validate', () => this.runValidation(), this.runtime);
    } finally {
      ctx.training = true;
    }
  }

  private async runValidation(): Promise<void> {
    const { setup } = this;
    this.validMetrics = await evaluate(setup.adapter, setup.lossFn, setup.metrics, setup.valid!, 'valid', {
      boundary: async () => {
        await nextMacrotask();
        if (setup.interruption.interrupted) this.throwInterrupted();
      },
      checkLabels: setup.checkLabels,
      epoch: this.ctx.epoch,
    });
    this.ctx.lastMetrics.valid = this.validMetrics;
  }

  /** Throws {@link FitInterrupted} for the current position. */
  private throwInterrupted(): never {
    throw new FitInterrupted(
      this.ctx.epoch,
      this.batchesDone,
      this.setup.steps.count,
      this.setup.interruption.reason ?? 'abort'
    );
  }

  private async finishTraining(): Promise<void> {
    if (this.trainMetrics !== undefined) return;
    const train: Record<string, number> = { loss: await this.losses.mean() };
    for (const metric of this.setup.metrics) train[metric.name] = await metric.compute();
    for (const metric of this.setup.metrics) metric.reset();
    this.trainMetrics = train;
    this.ctx.lastMetrics.train = train;
  }

  private async finishEpoch(): Promise<void> {
    await this.finishTraining();
    this.ctx.history.epochs.push({
      epoch: this.ctx.epoch,
      step: this.setup.steps.count,
      seconds: (this.setup.now() - this.epochStart) / 1000,
      train: this.trainMetrics!,
      valid: this.validMetrics,
      hypers: readHypers(this.setup.optimizer),
    });
  }

  private beginBatch(batch: unknown, index: number): void {
    try {
      checkBatch(batch, 'train', index);
    } catch (error) {
      disposeBatch(batch as Partial<Batch> | undefined);
      throw error;
    }
    this.ctx.batchIndex = index;
    this.ctx.batch = batch;
    this.lastInput = { shape: [...(batch as Batch).x.shape], where: this.where() };
    this.owned.begin(batch);
    this.stepApplied = false;
  }

  private async runBatch(): Promise<void> {
    const { ctx, setup } = this;
    const batch = ctx.batch!;
    const variables = setup.adapter.trainableVariables();
    if (variables.length === 0) throw new Error('model has no trainable variables to optimise');
    setup.adapter.seedDropout(() => setup.rng.int(0, 2 ** 31 - 1));
    const countBefore = tf.memory().numTensors;
    let taped: ReturnType<typeof tapedForward>;
    try {
      taped = tapedForward(ctx, setup.adapter, setup.lossFn, this.dispatcher, batch.x, batch.y, variables, this.owned.preds);
    } catch (error) {
      throw stepFailure(error, 'the forward and backward pass', this.where());
    }
    const { value, grads } = taped;
    ctx.loss = value;
    this.owned.keepPred(ctx.pred!);
    const gradList: VariableGradient[] = [];
    for (const variable of variables) {
      const gradient = grads[variable.name];
      if (gradient != null) gradList.push({ variable, gradient });
    }
    ctx.grads = gradList;
    this.owned.adoptGrads(gradList);
    this.checks.accountForward(tf.memory().numTensors - countBefore - 2 - this.owned.gradCount, ctx.pred!, batch.y);
    if (setup.checkLabels) await this.checks.labels(ctx.pred!, batch.y, { argument: 'train', epoch: ctx.epoch, batch: ctx.batchIndex });
    this.currentLoss = this.losses.add(value, batch.x.shape[0] ?? 1);
    tf.tidy(() => {
      for (const metric of setup.metrics) metric.update(ctx.pred!, batch.y);
    });
    await this.dispatcher.fire('afterBackward', () => this.owned.settleGrads());
    await withEvents('step', () => this.applyStep(), this.runtime);
  }

  /** Where the loop stands, for error messages. */
  private where(): { epoch: number; batch: number; step: number } {
    return { epoch: this.ctx.epoch, batch: this.ctx.batchIndex, step: this.ctx.step };
  }

  private applyStep(): void {
    const { ctx, setup } = this;
    const hypers = readHypers(setup.optimizer);
    try {
      setup.optimizer.applyGradients(ctx.grads!);
    } catch (error) {
      throw stepFailure(error, 'the optimizer step', this.where());
    }
    this.stepApplied = true;
    this.losses.addStep(this.currentLoss!, { step: ctx.step, epoch: ctx.epoch, batch: ctx.batchIndex, hypers });
  }

  private endBatch(): void {
    const { ctx } = this;
    this.owned.release();
    this.currentLoss = undefined;
    if (this.stepApplied) {
      this.setup.steps.count++;
      ctx.step = this.setup.steps.count;
      ctx.fitStep = ctx.step - this.fitStartStep;
      if (this.leakGuard !== undefined && !this.leakGuard.started) {
        this.leakGuard.start(tf.memory().numTensors - this.losses.held);
      }
    }
  }
}

function describeCancel(signal: CancelSignal): string {
  const where = signal.plugin === undefined ? '' : ` by plugin "${signal.plugin}" in ${signal.event}`;
  return `cancelled${where}${signal.reason === undefined ? '' : `: ${signal.reason}`}`;
}
