import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@convkit/core';
import { checkBatch, disposeBatch, sourceLength, type Batch, type BatchSource } from './batch-source.js';
import { hyperView, readHypers, type LoopContext } from './context.js';
import { Dispatcher } from './dispatcher.js';
import { evaluate } from './evaluate.js';
import type { History } from './history.js';
import type { Learner } from './learner.js';
import { LeakGuard } from './leak-guard.js';
import { LossBuffer, type LossEntry } from './loss-buffer.js';
import type { LossFunction } from './losses.js';
import type { Metric } from './metrics.js';
import type { LearnerModel, ModelAdapter } from './model.js';
import type { OptimizerLike, VariableGradient } from './optimizer.js';
import type { Plugin } from './plugin.js';
import { CancelSignal, withEvents, type EventRuntime } from './signals.js';
import { tapedForward } from './taped-forward.js';
import { BatchOwnership } from './batch-ownership.js';
import { captureRun, restoreHypers, restorePlugins, restoreSource, type CapturedState } from './checkpoint-resume.js';
import type { CheckpointState } from './checkpoint-state.js';

/** What a fit needs from its learner. */
export interface FitSetup {
  learner: Learner;
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
  /** The learner's lifetime step counter, advanced by the fit. */
  steps: { count: number };
  history: History;
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
  /** True while batches are being trained on (validate() must not reset the metrics then). */
  inTrainingPhase = false;

  constructor(
    private readonly setup: FitSetup,
    private readonly plugins: readonly Plugin[],
    epochs: number,
    private readonly resume: CheckpointState | undefined = undefined
  ) {
    const history = setup.history;
    this.losses = new LossBuffer(history);
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
    this.dispatcher = new Dispatcher(plugins, this.ctx, this.leakGuard);
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
          const first = this.resume === undefined ? 0 : this.restore(this.resume);
          for (let epoch = first; epoch < ctx.epochs; epoch++) {
            this.startEpoch(epoch);
            await withEvents('epoch', () => this.runEpoch(), this.runtime, { settle: () => this.finishEpoch() });
            this.resumeBatch = 0;
            this.skipBatches = 0;
            this.leakGuard?.checkEpoch(epoch);
          }
          ctx.history.stopReason = 'completed';
        },
        this.runtime,
        {
          settle: () => this.losses.resolve(),
          onFailure: (error) => {
            ctx.history.stopReason = `error: ${error instanceof Error ? error.message : String(error)}`;
          },
        }
      );
    } finally {
      this.losses.clear();
      for (const metric of this.setup.metrics) metric.reset();
    }
  }

  private startEpoch(epoch: number): void {
    this.ctx.epoch = epoch;
    this.epochStart = this.setup.now();
    this.trainMetrics = undefined;
    this.validMetrics = {};
    this.losses.clear();
    if (this.resumeBatch > 0) this.losses.restore(this.resume!.epochLosses);
    for (const metric of this.setup.metrics) metric.reset();
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
    });
  }

  private async runEpoch(): Promise<void> {
    const { ctx, setup } = this;
    this.inTrainingPhase = true;
    let index = this.resumeBatch - this.skipBatches;
    const finished = ctx.batchesPerEpoch !== undefined && this.resumeBatch >= ctx.batchesPerEpoch;
    try {
      for await (const batch of finished ? [] : setup.train) {
        if (this.skipBatches > 0) {
          this.skipBatches--;
          disposeBatch(batch as Partial<Batch>);
          index++;
          continue;
        }
        this.beginBatch(batch, index);
        try {
          await withEvents('batch', () => this.runBatch(), this.runtime);
        } finally {
          this.endBatch();
        }
        index++;
      }
    } finally {
      this.inTrainingPhase = false;
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
    this.validMetrics = await evaluate(setup.adapter, setup.lossFn, setup.metrics, setup.valid!, 'valid');
    this.ctx.lastMetrics.valid = this.validMetrics;
  }

  private async finishTraining(): Promise<void> {
    if (this.trainMetrics !== undefined) return;
    const train: Record<string, number> = { loss: await this.losses.mean() };
    for (const metric of this.setup.metrics) train[metric.name] = metric.compute();
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
    this.owned.begin(batch);
    this.stepApplied = false;
  }

  private async runBatch(): Promise<void> {
    const { ctx, setup } = this;
    const batch = ctx.batch!;
    const variables = setup.adapter.trainableVariables();
    if (variables.length === 0) throw new Error('model has no trainable variables to optimise');
    const countBefore = tf.memory().numTensors;
    const { value, grads } = tapedForward(
      ctx,
      setup.adapter,
      setup.lossFn,
      this.dispatcher,
      batch.x,
      batch.y,
      variables,
      this.owned.preds
    );
    ctx.loss = value;
    this.owned.keepPred(ctx.pred!);
    const gradList: VariableGradient[] = [];
    for (const variable of variables) {
      const gradient = grads[variable.name];
      if (gradient != null) gradList.push({ variable, gradient });
    }
    ctx.grads = gradList;
    this.owned.adoptGrads(gradList);
    this.accountForward(tf.memory().numTensors - countBefore - 2 - this.owned.gradCount);
    this.currentLoss = this.losses.add(value, batch.x.shape[0] ?? 1);
    tf.tidy(() => {
      for (const metric of setup.metrics) metric.update(ctx.pred!, batch.y);
    });
    await this.dispatcher.fire('afterBackward', () => this.owned.settleGrads());
    await withEvents('step', () => this.applyStep(), this.runtime);
  }

  /** Leak accounting for the taped hooks, which cannot be measured one by one inside the tape. */
  private accountForward(extra: number): void {
    if (this.leakGuard === undefined || extra <= 0) return;
    const taped = [...this.dispatcher.pluginsFor('afterPred'), ...this.dispatcher.pluginsFor('afterLoss')];
    if (taped.length === 0) return;
    const names = [...new Set(taped.map((p) => p.name))].join('", "');
    this.leakGuard.record(names, 'afterPred/afterLoss', extra);
  }

  private applyStep(): void {
    const { ctx, setup } = this;
    const hypers = readHypers(setup.optimizer);
    setup.optimizer.applyGradients(ctx.grads!);
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
    }
  }
}

function describeCancel(signal: CancelSignal): string {
  const where = signal.plugin === undefined ? '' : ` by plugin "${signal.plugin}" in ${signal.event}`;
  return `cancelled${where}${signal.reason === undefined ? '' : `: ${signal.reason}`}`;
}
