import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import { resolveLoss, type LossFunction, type LossName } from '../losses.js';
import { adaptModel, type LearnerModel } from '../model.js';
import { toOptimizerLike, type OptimizerLike } from '../optimizer.js';
import type { Plugin } from '../plugin.js';
import { CancelFit } from '../signals.js';

/** Options of {@link overfitCheck}. */
export interface OverfitCheckOptions {
  /** The loss, as for a `Learner`. */
  loss: LossName | LossFunction;
  /** The optimizer. Defaults to `tf.train.adam(0.001)` (created and disposed by the check). */
  optimizer?: OptimizerLike | tf.Optimizer;
  /** The most optimizer steps to take. Defaults to 300. */
  steps?: number;
  /** The check passes when a step's loss is below this. Defaults to 0.001. */
  lossThreshold?: number;
  /** Stop at the first step below the threshold. Defaults to true. */
  stopEarly?: boolean;
  /** `predict` agrees with training mode when max |training − inference output| ≤ tolerance · max(1, max |training output|). Defaults to 1e-4. */
  tolerance?: number;
  /** Extra plugins for the fit (e.g. a scheduler). Defaults to none. */
  plugins?: Plugin[];
  /** Seeds the learner. Defaults to 0. */
  seed?: number;
}

/** What {@link overfitCheck} found. */
export interface OverfitReport {
  /** True when some step's loss was below `lossThreshold`. */
  passed: boolean;
  /** The 0-based step whose loss was first below the threshold, if any. */
  reachedAtStep: number | undefined;
  /** The loss of every step taken (before that step's update). */
  losses: number[];
  /** The lowest of `losses`. */
  bestLoss: number;
  /** The loss of the trained model on the batch in training mode (dropout on, batch norm on batch statistics). */
  trainingModeLoss: number;
  /** The loss of the trained model on the batch in inference mode, as `predict` computes it. */
  inferenceLoss: number;
  /** max |training-mode output − inference-mode output| of the trained model on the batch. */
  maxDifference: number;
  /** True when the two outputs agree within `tolerance`. */
  predictAgrees: boolean;
  /** Layers that behave differently in training and inference (dropout, noise, batch normalisation). */
  modeDependentLayers: string[];
  /** One paragraph for people, with the numbers. */
  message: string;
}

const MODE_DEPENDENT = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'AlphaDropout',
  'GaussianDropout',
  'GaussianNoise',
  'BatchNormalization',
]);

function checkNumber(name: string, value: number, valid: boolean, expected: string): void {
  if (!valid) throw new Error(`options.${name} must be ${expected} (received ${String(value)})`);
}

/**
 * Trains `model` on one batch (one sample, or a handful) for up to `steps` steps and reports whether the loss got
 * below `lossThreshold`, the loss curve, and whether `predict` (inference mode) agrees with the training-mode
 * output on that batch.
 *
 * Why: E1.4 — a correct model and pipeline can drive the loss on one sample or a batch of 5 to ~0 (~1e-4) in a few
 * hundred steps; if it cannot, there is a bug (labels misaligned, wrong loss for the output, frozen weights, a
 * broken layer) and training on the full set would only hide it. A gap between training-mode and inference-mode
 * outputs after overfitting points at dropout or batch normalisation (batch statistics of a tiny batch differ from
 * the moving averages), which `modeDependentLayers` lists.
 *
 * It runs a real `Learner` fit, so plugins can be added. It trains `model` in place (pass a fresh model if you want
 * to keep its weights). Does not dispose `batch`, `model` or a given optimizer; disposes the default one and all
 * tensors it makes.
 *
 * @param model - A `tf.LayersModel` or `FunctionModel`.
 * @param batch - The sample(s) to overfit, `{ x, y }` as for a learner; not disposed.
 * @param options - See {@link OverfitCheckOptions}: `loss` (required), `optimizer` (defaults to Adam 0.001),
 *   `steps` (defaults to 300), `lossThreshold` (defaults to 0.001), `stopEarly` (defaults to true), `tolerance`
 *   (defaults to 1e-4), `plugins`, `seed` (defaults to 0).
 * @example
 * ```ts
 * import { overfitCheck } from '@convkit/learner';
 * const report = await overfitCheck(model, { x: images.slice(0, 5), y: labels.slice(0, 5) }, { loss: 'softmaxCrossEntropy', steps: 300 });
 * console.log(report.passed, report.bestLoss, report.predictAgrees, report.message);
 * ```
 */
export async function overfitCheck(model: LearnerModel, batch: Batch, options: OverfitCheckOptions): Promise<OverfitReport> {
  if (!batch || !(batch.x instanceof tf.Tensor) || !(batch.y instanceof tf.Tensor)) {
    throw new Error(`batch must be { x: tf.Tensor, y: tf.Tensor } (received ${typeof batch})`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new Error(`options must be an object with at least { loss } (received ${String(options)})`);
  }
  const steps = options.steps ?? 300;
  checkNumber('steps', steps, Number.isInteger(steps) && steps >= 1, 'a positive integer');
  const threshold = options.lossThreshold ?? 1e-3;
  checkNumber('lossThreshold', threshold, threshold > 0, 'a positive number');
  const tolerance = options.tolerance ?? 1e-4;
  checkNumber('tolerance', tolerance, tolerance >= 0, 'a non-negative number');
  const adapter = adaptModel(model);
  const lossFn = resolveLoss(options.loss);
  const ownOptimizer = options.optimizer === undefined ? tf.train.adam(0.001) : undefined;
  const optimizer = toOptimizerLike(options.optimizer ?? ownOptimizer);
  const source: BatchSource = {
    length: steps,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let i = 0; i < steps; i++) yield { x: batch.x.clone(), y: batch.y.clone() };
    },
  };
  const losses: number[] = [];
  let reachedAtStep: number | undefined;
  const recorder: Plugin = {
    name: 'overfitCheck',
    order: 100,
    async afterBatch(ctx): Promise<void> {
      const loss = await ctx.lossValue();
      losses.push(loss);
      if (reachedAtStep === undefined && loss < threshold) {
        reachedAtStep = losses.length - 1;
        if (options.stopEarly ?? true) throw new CancelFit(`loss ${loss} < ${threshold}`);
      }
    },
  };
  try {
    const learner = new Learner({
      model,
      loss: options.loss,
      optimizer,
      train: source,
      metrics: [],
      seed: options.seed ?? 0,
      plugins: [...(options.plugins ?? []), recorder],
    });
    await learner.fit(1);
  } finally {
    ownOptimizer?.dispose();
  }
  const measured = tf.tidy(() => {
    const trainingOut = adapter.forward(batch.x, true);
    const inferenceOut = adapter.forward(batch.x, false);
    return tf.stack([
      lossFn(trainingOut, batch.y),
      lossFn(inferenceOut, batch.y),
      tf.max(tf.abs(tf.sub(trainingOut, inferenceOut))),
      tf.max(tf.abs(trainingOut)),
    ]);
  });
  const [trainingModeLoss, inferenceLoss, maxDifference, scale] = Array.from(await measured.data());
  measured.dispose();
  const predictAgrees = maxDifference! <= tolerance * Math.max(1, scale!);
  const modeDependentLayers =
    model instanceof tf.LayersModel
      ? model.layers.filter((layer) => MODE_DEPENDENT.has(layer.getClassName())).map((layer) => layer.name)
      : [];
  const bestLoss = Math.min(...losses);
  const passed = reachedAtStep !== undefined;
  const fitText = passed
    ? `loss reached ${losses[reachedAtStep!]!.toExponential(2)} < ${threshold} at step ${reachedAtStep}`
    : `loss did not get below ${threshold} in ${losses.length} steps (best ${bestLoss.toExponential(2)}): ` +
      'check the labels, the loss for the output layer, the learning rate and frozen layers';
  const modeText = predictAgrees
    ? `predict agrees with training mode (max difference ${maxDifference!.toExponential(2)})`
    : `predict differs from training mode (max difference ${maxDifference!.toExponential(2)}, loss ` +
      `${trainingModeLoss!.toExponential(2)} training vs ${inferenceLoss!.toExponential(2)} inference)` +
      (modeDependentLayers.length > 0
        ? `; mode-dependent layers: ${modeDependentLayers.join(', ')}`
        : '; no dropout or batch-norm layer found, so the model itself behaves differently');
  return {
    passed,
    reachedAtStep,
    losses,
    bestLoss,
    trainingModeLoss: trainingModeLoss!,
    inferenceLoss: inferenceLoss!,
    maxDifference: maxDifference!,
    predictAgrees,
    modeDependentLayers,
    message: `${fitText}; ${modeText}.`,
  };
}
