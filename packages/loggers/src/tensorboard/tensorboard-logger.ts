import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { valueStats, type ActivationRecord, type LoopContext, type Plugin, type TensorStatsOptions } from '@convkit/learner';
import { learningCurves } from '@convkit/plot';
import type { SummaryValue } from './event-proto.js';
import { histogramFromStats, openEventWriter, pngImage, type EventWriter } from './event-writer.js';
import { checkFlushEvery, checkPath, epochsAfter, fitStartStep, isResumed, stepsAfter } from '../run-records.js';

/** Options of {@link tensorBoardLogger}. */
export interface TensorBoardLoggerOptions {
  /** Write a histogram of every model weight every this many epochs; 0 turns them off. Defaults to 1. */
  readonly weightHistograms?: number;
  /** Bins of the weight histograms. Defaults to 30. */
  readonly bins?: number;
  /**
   * An `activationStats()` plugin of the same fit: its activation and gradient records are written as histograms
   * (`activations/<layer>`, `gradients/<variable>`) at the steps they were taken. Defaults to none.
   */
  readonly activations?: { readonly records: readonly ActivationRecord[] };
  /** Write the learning-curve chart (PNG) as an image every this many epochs, and at the fit's end; 0 turns it off. Defaults to 10. */
  readonly curvesEvery?: number;
  /** Also write the step scalars every this many steps during an epoch (one device read each time). Defaults to epoch ends only. */
  readonly flushEvery?: number;
  /** The clock of the events' wall time, in milliseconds since 1970. Defaults to `Date.now`. */
  readonly now?: () => number;
  /** The host name in the event files' names. Defaults to `os.hostname()`. */
  readonly hostname?: string;
}

/** The plugin returned by {@link tensorBoardLogger}. */
export interface TensorBoardLoggerPlugin extends Plugin {
  /** The event files of the last fit (the `train` one, and the `validation` one once validation ran). */
  readonly files: readonly string[];
}

function checkEvery(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer (received ${JSON.stringify(value)})`);
  }
  return value;
}

/** The model's weights with their names (every weight of a layers model, the variables of a function model). */
function namedWeights(model: LoopContext['model']): { name: string; tensor: tf.Tensor }[] {
  if (model instanceof tf.LayersModel) return model.weights.map((weight) => ({ name: weight.name, tensor: weight.read() }));
  return model.variables.map((variable: tf.Variable) => ({ name: variable.name, tensor: variable }));
}

const scalars = (prefix: string, values: Record<string, number>): SummaryValue[] =>
  Object.entries(values).map(([name, value]) => ({ tag: `${prefix}${name}`, scalar: value }));

/**
 * A plugin that writes TensorBoard event files, so `tensorboard --logdir runs` shows a convkit run as it shows a
 * Keras or Lightning one: `<logdir>/train` and `<logdir>/validation` runs (so train and validation curves overlay),
 * with
 * - scalars per step: `batch_loss` and `batch_<hyper>` (`batch_learningRate`, …);
 * - scalars per epoch: `epoch_<metric>` in both runs (`epoch_loss`, `epoch_accuracy`), `epoch_<hyper>` for every
 *   parameter group (`epoch_learningRate/1` for group 1, as the history records them) and `epoch` (the epoch number);
 * - histograms of every weight (`weights/<name>`) at epoch ends, binned by the learner's `valueStats`, and of the
 *   activations and gradients of an `activationStats()` plugin passed as `activations`;
 * - the learning-curve chart of `@convkit/plot` as an image (`learning_curves`).
 *
 * Every event is at the learner's global step (as Lightning's logger; TensorBoard's "relative" and "wall" axes
 * also work). Events are appended at each epoch end (and every `flushEvery` steps), framed as TFRecords with
 * masked CRC32C. A resumed fit starts new event files that open with a session-start event at the checkpoint's step,
 * which tells TensorBoard to drop the crashed run's events from that step on.
 *
 * Why: TensorBoard is where practitioners compare runs; writing its format directly needs no Python at training time.
 *
 * @param logdir - the run's folder, e.g. `runs/resnet-lr0.1`; created if needed.
 * @param options - `weightHistograms` (epochs, defaults to 1), `bins` (defaults to 30), `activations`,
 *   `curvesEvery` (epochs, defaults to 10), `flushEvery` (steps), `now`, `hostname`.
 *
 * @example
 * ```ts
 * import { activationStats } from '@convkit/learner';
 * import { tensorBoardLogger } from '@convkit/loggers';
 * const stats = activationStats({ every: 50 });
 * const plugins = [stats, tensorBoardLogger('runs/demo', { activations: stats })];
 * // then: tensorboard --logdir runs
 * ```
 */
export function tensorBoardLogger(logdir: string, options: TensorBoardLoggerOptions = {}): TensorBoardLoggerPlugin {
  checkPath('logdir', logdir);
  const weightEvery = checkEvery('weightHistograms', options.weightHistograms, 1);
  const curvesEvery = checkEvery('curvesEvery', options.curvesEvery, 10);
  const flushEvery = checkFlushEvery(options.flushEvery);
  const statsOptions: TensorStatsOptions = { bins: options.bins ?? 30 };
  if (!Number.isInteger(statsOptions.bins) || statsOptions.bins! < 1) {
    throw new Error(`bins must be a positive integer (received ${JSON.stringify(options.bins)})`);
  }
  const activations = options.activations;
  if (activations !== undefined && !Array.isArray((activations as { records?: unknown }).records)) {
    throw new Error('activations must be an activationStats() plugin (an object with a records array)');
  }
  const writerOptions = {
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
  };
  let train: EventWriter | undefined;
  let validation: EventWriter | undefined;
  let resumedAt: number | undefined;
  let lastStep = -1;
  let lastEpochStep = -1;
  let activationsWritten = 0;
  let curvesStep = -1;

  const open = async (run: string): Promise<EventWriter> => {
    const writer = await openEventWriter(join(logdir, run), writerOptions);
    if (resumedAt !== undefined) writer.addSessionStart(resumedAt);
    return writer;
  };
  const writeSteps = (ctx: LoopContext): void => {
    for (const record of stepsAfter(ctx.history, lastStep)) {
      train!.add(record.step, [{ tag: 'batch_loss', scalar: record.loss }, ...scalars('batch_', record.hypers)]);
      lastStep = record.step;
    }
  };
  const writeActivations = (): void => {
    const records = activations?.records ?? [];
    if (records.length < activationsWritten) activationsWritten = 0; // the stats plugin started a new fit
    for (const record of records.slice(activationsWritten)) {
      const histogram = histogramFromStats(record);
      const name = record.kind === 'activation' ? record.layer : (record.variable ?? record.layer);
      if (histogram !== undefined) train!.add(record.step, [{ tag: `${record.kind}s/${name}`, histogram }]);
    }
    activationsWritten = records.length;
  };
  const writeEpochs = async (ctx: LoopContext): Promise<void> => {
    for (const record of epochsAfter(ctx.history, lastEpochStep)) {
      train!.add(record.step, [
        { tag: 'epoch', scalar: record.epoch },
        ...scalars('epoch_', record.train),
        ...scalars('epoch_', record.hypers),
      ]);
      if (Object.keys(record.valid).length > 0) {
        validation ??= await open('validation');
        validation.add(record.step, scalars('epoch_', record.valid));
      }
      lastEpochStep = record.step;
    }
  };
  const writeWeights = async (ctx: LoopContext): Promise<void> => {
    const values: SummaryValue[] = [];
    for (const { name, tensor } of namedWeights(ctx.model)) {
      const histogram = histogramFromStats(valueStats(await tensor.data(), statsOptions));
      if (histogram !== undefined) values.push({ tag: `weights/${name}`, histogram });
    }
    train!.add(ctx.step, values);
  };
  const writeCurves = async (ctx: LoopContext): Promise<void> => {
    if (ctx.history.epochs.length === 0 || curvesStep === ctx.step) return;
    curvesStep = ctx.step;
    const png = await learningCurves(ctx.history).toPNG();
    train!.add(ctx.step, [{ tag: 'learning_curves', image: pngImage(png) }]);
  };
  const flush = async (): Promise<void> => {
    await train?.flush();
    await validation?.flush();
  };

  return {
    name: 'tensorBoardLogger',
    order: -50,
    get files(): readonly string[] {
      return [train?.path, validation?.path].filter((path): path is string => path !== undefined);
    },
    async beforeFit(ctx) {
      resumedAt = isResumed(ctx) ? ctx.step : undefined;
      validation = undefined;
      lastStep = fitStartStep(ctx) - 1;
      lastEpochStep = fitStartStep(ctx) - 1;
      activationsWritten = 0;
      curvesStep = -1;
      train = await open('train');
      if (resumedAt !== undefined) {
        // The completed epochs were flushed by the crashed run at their ends; the steps of a partly done epoch
        // (a checkpoint taken mid-epoch) may not have been.
        lastEpochStep = ctx.history.epochs.at(-1)?.step ?? lastEpochStep;
        lastStep = lastEpochStep - 1;
        writeSteps(ctx);
        await flush();
      }
    },
    async afterBatch(ctx) {
      if (flushEvery === undefined || (ctx.fitStep + 1) % flushEvery !== 0) return;
      await ctx.runningLoss(); // reads the pending losses, which moves their step records into the history
      writeSteps(ctx);
      writeActivations();
      await flush();
    },
    async afterEpoch(ctx) {
      writeSteps(ctx);
      writeActivations();
      await writeEpochs(ctx);
      if (weightEvery > 0 && (ctx.epoch + 1) % weightEvery === 0) await writeWeights(ctx);
      if (curvesEvery > 0 && (ctx.epoch + 1) % curvesEvery === 0) await writeCurves(ctx);
      await flush();
    },
    async afterFit(ctx) {
      if (train === undefined) return;
      try {
        writeSteps(ctx);
        writeActivations();
        await writeEpochs(ctx);
        if (curvesEvery > 0) await writeCurves(ctx);
      } finally {
        await train.close();
        await validation?.close();
      }
    },
  };
}
