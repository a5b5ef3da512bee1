import * as tf from '@tensorflow/tfjs';
import type { LearnerModel, LoopContext, Plugin, WriteTarget } from '@convkit/learner';
import { checkShapes, modelWeights, type WeightHandle } from './model-weights.js';
import { resolveSwaOptions, swaLearningRateAt, type SwaOptions } from './swa-options.js';

/** The JSON-serialisable state of an {@link SwaPlugin} (see {@link SwaPlugin.getState}). */
export interface SwaState {
  /** Weight sets averaged so far. */
  averagedCount: number;
  /** Optimizer steps taken in the averaging phase so far. */
  phaseSteps: number;
  /** The running sums of the weights (float32 values, row-major), or null when none is held. */
  sums: { shape: number[]; values: number[] }[] | null;
}

/** The SWA plugin returned by {@link swa}: a convkit `Plugin` plus access to the average. */
export interface SwaPlugin extends Plugin {
  /** Weight sets averaged so far in this fit (or restored by `setState`). */
  readonly averagedCount: number;
  /**
   * The averaged weights, in the model's weight order (`trainableWeights`, or `variables`). Returns new tensors;
   * the caller disposes them. Throws when no average is held (nothing averaged yet, or already swapped and freed).
   */
  averagedWeights(): tf.Tensor[];
  /**
   * Copies the averaged weights into `model` (by default the model of the latest fit). The model keeps its own
   * variables; no tensor is handed over. Throws when no average is held or the weights do not match.
   */
  apply(model?: LearnerModel): void;
  /** Frees the average (safe to call twice). */
  dispose(): void;
  /** The state for a checkpoint (reads the sums from the device). */
  getState(): SwaState;
  /** Restores a state from {@link SwaPlugin.getState}; the next fit continues that average instead of resetting. */
  setState(state: unknown): void;
}

function parseState(state: unknown): SwaState {
  const candidate = state as Partial<SwaState> | null;
  const fail = (why: string): never => {
    throw new Error(`state must be an SwaState { averagedCount, phaseSteps, sums } from getState (${why})`);
  };
  if (typeof candidate !== 'object' || candidate === null) return fail(`received ${String(state)}`);
  const { averagedCount, phaseSteps, sums } = candidate;
  if (!Number.isInteger(averagedCount) || averagedCount! < 0) return fail(`averagedCount is ${String(averagedCount)}`);
  if (!Number.isInteger(phaseSteps) || phaseSteps! < 0) return fail(`phaseSteps is ${String(phaseSteps)}`);
  if (sums !== null && !Array.isArray(sums)) return fail(`sums is ${typeof sums}`);
  for (const [index, sum] of (sums ?? []).entries()) {
    const elements = Array.isArray(sum?.shape) ? sum.shape.reduce((product, size) => product * size, 1) : NaN;
    if (!Array.isArray(sum?.values) || sum.values.length !== elements) {
      return fail(`sums[${index}] needs a shape and as many values as the shape holds`);
    }
  }
  return { averagedCount: averagedCount!, phaseSteps: phaseSteps!, sums: sums ?? null };
}

/**
 * Stochastic weight averaging (SWA; Izmailov et al., 2018, as in `torch.optim.swa_utils`): keeps an equal-weight
 * average of the model's weights taken along the end of training, and puts it into the model when the fit ends.
 *
 * Why: with a constant or cyclic learning rate, SGD keeps moving around a wide, flat region of the loss surface;
 * the average of those points lies nearer its centre than any one of them, and generalises better than the last
 * weights, at no extra training cost.
 *
 * Update rule, at each averaging point k = 1, 2, … (the end of each epoch from `startEpoch` on, or every
 * `frequency` steps of that phase): `sum ← sum + w`, and the average is `w_SWA = sum / k`, the arithmetic mean of
 * the k weight sets. During the averaging phase the learning rate can be held by the plugin (`learningRate`).
 *
 * Options (see {@link SwaOptions}): `startEpoch` (defaults to 0), `frequency` (defaults to once per epoch),
 * `learningRate` (defaults to none), `swapAtEnd` (defaults to true), `weights` (defaults to `'trainable'`),
 * `name` (defaults to `'swa'`), `order` (defaults to 60), `priority` (defaults to none).
 *
 * Batch normalisation: the running statistics are not averaged (as in PyTorch); recompute them with a pass over
 * the training data after the swap, or use `weights: 'all'`.
 *
 * Ownership: the plugin allocates its sums in `beforeFit` (so the tensor count stays flat across epochs) and frees
 * them in `afterFit` when `swapAtEnd` is true, otherwise in `dispose()` or the next `beforeFit`.
 * `averagedWeights()` returns new tensors that the caller disposes.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { tinyLearner } from '@convkit/learner/testing';
 * import { swa } from 'convkit-plugin-swa';
 * const averaging = swa({ startEpoch: 3, learningRate: 0.05 });
 * const tiny = tinyLearner({ plugins: [averaging] });
 * await tiny.learner.fit(6); // epochs 3, 4 and 5 are averaged; the average is in the model afterwards
 * console.log(averaging.averagedCount); // 3
 * tiny.dispose();
 * ```
 */
export function swa(options: SwaOptions = {}): SwaPlugin {
  const settings = resolveSwaOptions(options);
  const { startEpoch, frequency, learningRate } = settings;
  let sums: tf.Variable[] | null = null;
  let averagedCount = 0;
  let phaseSteps = 0;
  let restored = false;
  let swapped = false;
  let stepCancelled = false;
  let lastModel: LearnerModel | undefined;
  let handles: WeightHandle[] = [];

  const free = (): void => {
    sums?.forEach((sum) => sum.dispose());
    sums = null;
  };
  const holding = (what: string): tf.Variable[] => {
    if (sums !== null && averagedCount > 0) return sums;
    const why = swapped
      ? 'the average was copied into the model at the end of the fit and freed (swapAtEnd); read the model, or ' +
        'pass swapAtEnd: false to keep it'
      : 'no averaging point has been reached yet (averagedCount is 0)';
    throw new Error(`${what}: no SWA average is held: ${why}`);
  };
  const average = (): void => {
    const held = sums!;
    tf.tidy(() => held.forEach((sum, index) => sum.assign(tf.add(sum, handles[index]!.read()))));
    averagedCount += 1;
  };
  const inPhase = (ctx: LoopContext): boolean => ctx.epoch >= startEpoch;

  const writes: WriteTarget[] = learningRate === undefined ? [] : ['hyper.learningRate'];
  const result: SwaPlugin = {
    name: settings.name,
    order: settings.order,
    ...(writes.length > 0 ? { writes } : {}),
    ...(settings.priority !== undefined ? { priority: settings.priority } : {}),
    get averagedCount(): number {
      return averagedCount;
    },

    beforeFit(ctx: LoopContext): void {
      lastModel = ctx.model;
      handles = modelWeights(ctx.model, settings.weights);
      swapped = false;
      stepCancelled = false;
      if (restored && sums !== null) {
        checkShapes(handles, sums.map((sum) => sum.shape), 'the model');
      } else {
        free();
        averagedCount = 0;
        phaseSteps = 0;
        sums = tf.tidy(() => handles.map((handle) => tf.variable(tf.zeros([...handle.shape]), false)));
      }
      restored = false;
    },
    beforeBatch(ctx: LoopContext): void {
      stepCancelled = false;
      if (learningRate !== undefined && inPhase(ctx)) {
        ctx.hypers.learningRate = swaLearningRateAt(learningRate, phaseSteps);
      }
    },
    afterCancelStep(): void {
      stepCancelled = true;
    },
    afterStep(ctx: LoopContext): void {
      if (!inPhase(ctx) || stepCancelled) return;
      phaseSteps += 1;
      if (frequency !== undefined && phaseSteps % frequency === 0) average();
    },
    afterEpoch(ctx: LoopContext): void {
      if (frequency === undefined && inPhase(ctx)) average();
    },
    afterFit(ctx: LoopContext): void {
      if (!settings.swapAtEnd) return;
      if (averagedCount > 0 && sums !== null) {
        result.apply(ctx.model);
        swapped = true;
      }
      free();
    },

    averagedWeights(): tf.Tensor[] {
      const held = holding('averagedWeights()');
      return tf.tidy(() => held.map((sum) => tf.div(sum, averagedCount)));
    },
    apply(model?: LearnerModel): void {
      const held = holding('apply()');
      const target = model ?? lastModel;
      if (target === undefined) throw new Error('apply() needs a model (received none, and no fit has run yet)');
      const targetHandles = modelWeights(target, settings.weights);
      checkShapes(targetHandles, held.map((sum) => sum.shape), 'model');
      tf.tidy(() => held.forEach((sum, index) => targetHandles[index]!.write(tf.div(sum, averagedCount))));
    },
    dispose(): void {
      free();
      restored = false;
    },
    getState(): SwaState {
      return {
        averagedCount,
        phaseSteps,
        sums: sums === null ? null : sums.map((sum) => ({ shape: [...sum.shape], values: Array.from(sum.dataSync()) })),
      };
    },
    setState(state: unknown): void {
      const parsed = parseState(state);
      free();
      const restoredSums = parsed.sums;
      sums =
        restoredSums === null
          ? null
          : tf.tidy(() => restoredSums.map(({ shape, values }) => tf.variable(tf.tensor(values, shape), false)));
      averagedCount = parsed.averagedCount;
      phaseSteps = parsed.phaseSteps;
      restored = sums !== null;
      swapped = false;
    },
  };
  return result;
}
