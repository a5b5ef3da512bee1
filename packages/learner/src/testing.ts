/**
 * Helpers for plugin authors: a tiny real learner to drive a plugin through a real fit, and recorders that show
 * which events fired with which loop state.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@convkit/core';
import type { Batch, BatchSource } from './batch-source.js';
import type { LoopContext } from './context.js';
import { PLUGIN_EVENTS, type PluginEvent } from './events.js';
import type { History } from './history.js';
import { Learner } from './learner.js';
import type { Metric } from './metrics.js';
import type { OptimizerLike } from './optimizer.js';
import type { Plugin } from './plugin.js';

/** Options of {@link tinyLearner}. */
export interface TinyLearnerOptions {
  /** `'classification'`: 2 features, 2 linearly separable classes, softmax cross-entropy. `'regression'`: y = 2x + 1, mean squared error. Defaults to `'classification'`. */
  task?: 'classification' | 'regression';
  /** Training batches per epoch. Defaults to 4. */
  batches?: number;
  /** Samples per batch. Defaults to 8. */
  batchSize?: number;
  /** Validation batches per epoch (0 for none). Defaults to 2. */
  validBatches?: number;
  /** Defaults to `tf.train.sgd(0.1)` (created and disposed by the helper). */
  optimizer?: OptimizerLike | tf.Optimizer;
  /** Defaults to none. */
  plugins?: Plugin[];
  /** Defaults to the learner's default for the task. */
  metrics?: Metric[];
  /** Seeds the data and the learner. Defaults to 0. */
  seed?: number;
  /** Defaults to false. */
  leakGuard?: boolean;
  /** Checked mode (see `LearnerOptions.checkWrites`). Defaults to false. */
  checkWrites?: boolean;
  /** Defaults to `performance.now`. */
  now?: () => number;
}

/** A learner over a tiny linear model, with what the helper created. */
export interface TinyLearner {
  learner: Learner;
  /** The model's variables (a weight matrix and a bias). */
  variables: tf.Variable[];
  /** Disposes the variables, and the optimizer if the helper created it. */
  dispose(): void;
}

/** A re-iterable source that makes fresh tensors from fixed arrays each epoch. */
function arraySource(
  xs: Float32Array[],
  ys: (Float32Array | Int32Array)[],
  xShape: number[],
  yShape: number[]
): BatchSource {
  return {
    length: xs.length,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let i = 0; i < xs.length; i++) {
        const y = ys[i]!;
        yield {
          x: tf.tensor(xs[i]!, xShape),
          y: y instanceof Int32Array ? tf.tensor(y, yShape, 'int32') : tf.tensor(y, yShape),
        };
      }
    },
  };
}

function makeData(
  task: 'classification' | 'regression',
  batches: number,
  batchSize: number,
  seed: number
): BatchSource {
  const rng = createRng(seed);
  const xs: Float32Array[] = [];
  const ys: (Float32Array | Int32Array)[] = [];
  for (let b = 0; b < batches; b++) {
    if (task === 'classification') {
      const x = new Float32Array(batchSize * 2);
      const y = new Int32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        const label = rng.int(0, 2);
        x[2 * i] = (label === 1 ? 1 : -1) + rng.normal(0, 0.3);
        x[2 * i + 1] = (label === 1 ? 1 : -1) + rng.normal(0, 0.3);
        y[i] = label;
      }
      xs.push(x);
      ys.push(y);
    } else {
      const x = new Float32Array(batchSize);
      const y = new Float32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        x[i] = rng.uniform(-1, 1);
        y[i] = 2 * x[i]! + 1;
      }
      xs.push(x);
      ys.push(y);
    }
  }
  return task === 'classification'
    ? arraySource(xs, ys, [batchSize, 2], [batchSize])
    : arraySource(xs, ys, [batchSize, 1], [batchSize, 1]);
}

/**
 * A real learner over a tiny linear model and synthetic data, for driving a plugin through a real fit in tests.
 * Each epoch makes fresh batch tensors, so it has the loop's real ownership behaviour.
 *
 * @returns The learner, the model variables, and `dispose()`, which frees what the helper created.
 *
 * @example
 * ```ts
 * import { tinyLearner, traceFit } from '@convkit/learner/testing';
 * const tiny = tinyLearner({ plugins: [myPlugin] });
 * const { history, names } = await traceFit(tiny.learner, 2);
 * tiny.dispose();
 * ```
 */
export function tinyLearner(options: TinyLearnerOptions = {}): TinyLearner {
  const task = options.task ?? 'classification';
  const batches = options.batches ?? 4;
  const batchSize = options.batchSize ?? 8;
  const validBatches = options.validBatches ?? 2;
  const seed = options.seed ?? 0;
  const inputs = task === 'classification' ? 2 : 1;
  const outputs = task === 'classification' ? 2 : 1;
  const weight = tf.tidy(() => tf.variable(tf.zeros([inputs, outputs])));
  const bias = tf.tidy(() => tf.variable(tf.zeros([outputs])));
  const ownOptimizer = options.optimizer === undefined ? tf.train.sgd(0.1) : undefined;
  const learner = new Learner({
    model: { variables: [weight, bias], forward: (x) => tf.add(tf.matMul(x, weight), bias) },
    loss: task === 'classification' ? 'softmaxCrossEntropy' : 'meanSquaredError',
    optimizer: options.optimizer ?? ownOptimizer!,
    train: makeData(task, batches, batchSize, seed),
    ...(validBatches > 0 ? { valid: makeData(task, validBatches, batchSize, seed + 1) } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    plugins: options.plugins ?? [],
    seed,
    leakGuard: options.leakGuard ?? false,
    checkWrites: options.checkWrites ?? false,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    learner,
    variables: [weight, bias],
    dispose: () => {
      weight.dispose();
      bias.dispose();
      ownOptimizer?.dispose();
    },
  };
}

/** What the loop looked like when an event fired (cheap fields only; no tensor reads). */
export interface EventSnapshot {
  event: PluginEvent;
  epoch: number;
  batchIndex: number;
  step: number;
  fitStep: number;
  training: boolean;
  hypers: Record<string, number>;
  /** Shape of `ctx.batch.x`, if a batch is current. */
  batchShape: number[] | undefined;
  hasPred: boolean;
  hasLoss: boolean;
  /** Number of gradients, if `ctx.grads` is set. */
  gradCount: number | undefined;
}

function snapshot(event: PluginEvent, ctx: LoopContext): EventSnapshot {
  return {
    event,
    epoch: ctx.epoch,
    batchIndex: ctx.batchIndex,
    step: ctx.step,
    fitStep: ctx.fitStep,
    training: ctx.training,
    hypers: { ...ctx.hypers },
    batchShape: ctx.batch ? [...ctx.batch.x.shape] : undefined,
    hasPred: ctx.pred !== undefined,
    hasLoss: ctx.loss !== undefined,
    gradCount: ctx.grads?.length,
  };
}

/** A recording plugin and what it recorded. */
export interface EventRecorder {
  /** Add this plugin to a learner or a fit. */
  plugin: Plugin;
  /** One snapshot per event fired, in order. */
  events: EventSnapshot[];
  /** The event names fired, in order. */
  names(): PluginEvent[];
}

/**
 * Records every event (loop and cancel events) with a snapshot of the loop state. Given a plugin, the recorder
 * takes its name, order, writes and priority and calls its hooks after recording, so the trace shows what that
 * plugin saw.
 *
 * @example
 * ```ts
 * import { recordEvents } from '@convkit/learner/testing';
 * const recorder = recordEvents();
 * await learner.fit(1, { plugins: [recorder.plugin] });
 * console.log(recorder.names());
 * ```
 */
export function recordEvents(wrapped?: Plugin, options: { name?: string; order?: number } = {}): EventRecorder {
  const events: EventSnapshot[] = [];
  const hooks: Partial<Record<PluginEvent, (ctx: LoopContext) => unknown>> = {};
  for (const event of PLUGIN_EVENTS) {
    hooks[event] = (ctx) => {
      events.push(snapshot(event, ctx));
      const hook = wrapped?.[event] as ((ctx: LoopContext) => unknown) | undefined;
      return hook?.call(wrapped, ctx);
    };
  }
  const recorder = {
    ...hooks,
    name: options.name ?? wrapped?.name ?? 'recorder',
    order: options.order ?? wrapped?.order ?? 0,
    ...(wrapped?.writes ? { writes: wrapped.writes } : {}),
    ...(wrapped?.priority !== undefined ? { priority: wrapped.priority } : {}),
  } as Plugin;
  return { plugin: recorder, events, names: () => events.map((e) => e.event) };
}

/** The outcome of {@link traceFit}. */
export interface FitTrace {
  /** The fit's history (`learner.history`), also when the fit failed. */
  history: History;
  /** Every event fired, with snapshots. */
  events: EventSnapshot[];
  /** The event names, in order. */
  names: PluginEvent[];
  /** The error the fit rejected with, if it did. */
  error: unknown;
}

/**
 * Runs `learner.fit(epochs)` with a recorder added for this fit only, and returns the trace. Never throws: a
 * failed fit's error is in `error`.
 *
 * @example
 * ```ts
 * import { tinyLearner, traceFit } from '@convkit/learner/testing';
 * const tiny = tinyLearner({ batches: 2 });
 * const trace = await traceFit(tiny.learner, 1);
 * console.log(trace.names.slice(0, 3)); // ['beforeFit', 'beforeEpoch', 'beforeBatch']
 * tiny.dispose();
 * ```
 */
export async function traceFit(
  learner: Learner,
  epochs: number,
  options: { plugins?: Plugin[]; order?: number } = {}
): Promise<FitTrace> {
  const recorder = recordEvents(undefined, { name: 'trace', order: options.order ?? -1000 });
  let error: unknown;
  try {
    await learner.fit(epochs, { plugins: [recorder.plugin, ...(options.plugins ?? [])] });
  } catch (caught) {
    error = caught;
  }
  return { history: learner.history, events: recorder.events, names: recorder.names(), error };
}
