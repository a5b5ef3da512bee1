import * as tf from '@tensorflow/tfjs';
import { softmaxCrossEntropyFromLogits } from '@convkit/core';

/** The built-in losses, by name. */
export type LossName = 'softmaxCrossEntropy' | 'categoricalCrossEntropy' | 'meanSquaredError' | 'meanAbsoluteError';

/** A loss function: the mean loss of a batch as a scalar. Must not dispose `pred` or `y`. */
export type LossFunction = (pred: tf.Tensor, y: tf.Tensor) => tf.Scalar;

/**
 * The names {@link resolveLoss} accepts, and whether each is a classification loss (which gives the learner its
 * default `accuracy()` metric).
 *
 * @example
 * ```ts
 * import { LOSS_NAMES } from '@convkit/learner';
 * console.log(Object.keys(LOSS_NAMES));
 * ```
 */
export const LOSS_NAMES: Readonly<Record<LossName, { classification: boolean }>> = {
  softmaxCrossEntropy: { classification: true },
  categoricalCrossEntropy: { classification: true },
  meanSquaredError: { classification: false },
  meanAbsoluteError: { classification: false },
};

const PROBABILITY_EPSILON = 1e-7;

/** Whether `y` holds class indices for `pred`: its shape is `pred`'s without the class axis. */
function isClassIndices(pred: tf.Tensor, y: tf.Tensor): boolean {
  return y.rank === pred.rank - 1 && tf.util.arraysEqual(y.shape, pred.shape.slice(0, -1));
}

/**
 * Class targets as a float one-hot (or soft-label) tensor shaped like `pred`: `y` may be one-hot / soft labels with
 * the same shape as `pred`, or integer class indices with one dimension less. Returns a new tensor (the caller
 * disposes it).
 */
export function toOneHot(pred: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const classes = pred.shape[pred.rank - 1]!;
  if (y.rank === pred.rank) {
    if (!tf.util.arraysEqual(y.shape, pred.shape)) {
      throw new Error(
        `labels of shape [${y.shape.join(', ')}] do not match predictions of shape [${pred.shape.join(', ')}]`
      );
    }
    return y.dtype === 'float32' ? y.clone() : tf.cast(y, 'float32');
  }
  if (isClassIndices(pred, y)) {
    return tf.tidy(() => tf.oneHot(tf.cast(y, 'int32').flatten(), classes).reshape(pred.shape).toFloat());
  }
  throw new Error(
    `labels must be one-hot with the predictions' shape [${pred.shape.join(', ')}] or class indices of shape ` +
      `[${pred.shape.slice(0, -1).join(', ')}] (received shape [${y.shape.join(', ')}])`
  );
}

/** `y` as float values with `pred`'s shape (a same-size tensor is reshaped, e.g. [n] against [n, 1]). */
function toValues(pred: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (y.size !== pred.size) {
    throw new Error(
      `targets of shape [${y.shape.join(', ')}] do not match predictions of shape [${pred.shape.join(', ')}]`
    );
  }
  return tf.cast(y, 'float32').reshape(pred.shape);
}

const LOSSES: Record<LossName, LossFunction> = {
  // One kernel each way on wasm and cpu (@convkit/core's softmaxCrossEntropyFromLogits); class indices go in as int32,
  // so an index outside [0, classes) throws there instead of training as a row of zeros.
  softmaxCrossEntropy: (pred, y) =>
    tf.tidy(() => {
      return softmaxCrossEntropyFromLogits(isClassIndices(pred, y) ? (y.dtype === 'int32' ? y : tf.cast(y, 'int32')) : toOneHot(pred, y), pred);
    }),
  categoricalCrossEntropy: (pred, y) =>
    tf.tidy(() => {
      const clipped = tf.clipByValue(pred, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
      return tf.neg(tf.mean(tf.sum(tf.mul(toOneHot(pred, y), tf.log(clipped)), -1))) as tf.Scalar;
    }),
  meanSquaredError: (pred, y) => tf.tidy(() => tf.mean(tf.square(tf.sub(pred, toValues(pred, y)))) as tf.Scalar),
  meanAbsoluteError: (pred, y) => tf.tidy(() => tf.mean(tf.abs(tf.sub(pred, toValues(pred, y)))) as tf.Scalar),
};

/**
 * Turns a loss option into a function.
 *
 * - `'softmaxCrossEntropy'`: `pred` are logits; mean over the batch of −Σ y·logSoftmax(pred). Labels one-hot (or
 *   soft) with `pred`'s shape, or class indices (on wasm and cpu an index outside `[0, classes)` throws, naming it).
 *   One kernel forward and one backward on wasm and cpu (`softmaxCrossEntropyFromLogits` of @convkit/core).
 * - `'categoricalCrossEntropy'`: `pred` are probabilities (clipped to [1e-7, 1−1e-7]); mean of −Σ y·log(pred).
 * - `'meanSquaredError'`: mean of (pred − y)²; `'meanAbsoluteError'`: mean of |pred − y|.
 * - a function `(pred, y) => tf.Scalar`, used as is.
 *
 * @param loss - A {@link LossName} or a {@link LossFunction}.
 * @returns The loss function; it returns a new scalar that the caller disposes.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { resolveLoss } from '@convkit/learner';
 * const mse = resolveLoss('meanSquaredError');
 * mse(tf.tensor1d([1, 2]), tf.tensor1d([1, 4])).print(); // 2
 * ```
 */
export function resolveLoss(loss: LossName | LossFunction): LossFunction {
  if (typeof loss === 'function') return loss;
  if (typeof loss === 'string' && Object.hasOwn(LOSSES, loss)) return LOSSES[loss];
  throw new Error(
    `loss must be one of ${Object.keys(LOSSES).join(', ')} or a function (pred, y) => tf.Scalar ` +
      `(received ${typeof loss === 'string' ? `"${loss}"` : String(loss)})`
  );
}
