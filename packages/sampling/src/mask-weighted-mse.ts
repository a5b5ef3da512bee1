import * as tf from '@tensorflow/tfjs';
import { checkNonNegative, describe } from './validate.js';
import type { SamplingLoss } from './weighted-cross-entropy.js';

/** Options of {@link maskWeightedMse}. */
export interface MaskWeightedMseOptions {
  /**
   * Finds the pixels that matter in the target `y`: returns a mask (boolean, or floats in [0, 1]) that broadcasts
   * to `y`'s shape, e.g. `(y) => tf.greater(y, 0.9)` for bright pixels, or a detector built from a convolution. It
   * runs inside `tf.tidy`, so it may create tensors freely, and must not dispose `y`.
   */
  mask: (y: tf.Tensor) => tf.Tensor;
  /** The weight of a pixel inside the mask (1 outside). Defaults to `10`. */
  weightInside?: number;
  /** The factor of a sample whose mask is empty (no target pixels). Defaults to `0.5` (halves its loss). */
  noTargetFactor?: number;
}

/**
 * Mean squared error weighted per pixel by a mask, and per sample by whether the mask found anything: for
 * reconstructions where a few pixels matter most (experiment E1.2: an autoencoder that drops thrown knives of a
 * couple of pixels, because missing them barely moves the plain MSE).
 *
 * With the mask `m` (broadcast to `y`'s shape, values in [0, 1]), the pixel weight `w = 1 + (weightInside − 1) · m`
 * and the sample factor `f_b = 1` when sample `b`'s mask has a positive entry, else `noTargetFactor`:
 * `loss = mean over all elements of f_b · w · (pred − y)²`. The divisor is the element count, so with an empty mask
 * everywhere and `noTargetFactor = 1` it is the plain MSE. The mask is a constant: no gradient flows through it.
 *
 * Options: `mask` (required); `weightInside` (defaults to `10`); `noTargetFactor` (defaults to `0.5`).
 *
 * @returns A loss `(pred, y) => tf.Scalar` for the learner's `loss` option; it returns a new scalar (the caller
 *   disposes it) and neither keeps nor disposes `pred` or `y`.
 * @throws at construction if `mask` is not a function or a factor is negative or non-finite; at call time if `pred`
 *   and `y` differ in shape or the mask does not broadcast to it.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { maskWeightedMse } from '@convkit/sampling';
 * // ×10 on bright "knife" pixels, ÷2 on frames without any
 * const loss = maskWeightedMse({ mask: (y) => tf.greater(y, 0.9), weightInside: 10, noTargetFactor: 0.5 });
 * ```
 */
export function maskWeightedMse(options: MaskWeightedMseOptions): SamplingLoss {
  const { mask, weightInside = 10, noTargetFactor = 0.5 } = options ?? ({} as MaskWeightedMseOptions);
  if (typeof mask !== 'function') {
    throw new Error(`mask must be a function (y) => tf.Tensor (received ${describe(mask)})`);
  }
  checkNonNegative('weightInside', weightInside);
  checkNonNegative('noTargetFactor', noTargetFactor);
  return (pred, y) => {
    if (!tf.util.arraysEqual(pred.shape, y.shape) || pred.rank < 1) {
      throw new Error(
        `maskWeightedMse: y must have pred's shape [${pred.shape.join(', ')}] (received shape [${y.shape.join(', ')}])`
      );
    }
    return tf.tidy(() => {
      const target = tf.cast(y, 'float32');
      const found = mask(target);
      if (!(found instanceof tf.Tensor)) {
        throw new Error(`maskWeightedMse: mask must return a tensor (received ${describe(found)})`);
      }
      let inside: tf.Tensor;
      try {
        inside = tf.broadcastTo(tf.cast(found, 'float32'), y.shape);
      } catch {
        throw new Error(
          `maskWeightedMse: the mask of shape [${found.shape.join(', ')}] must broadcast to y's shape [${y.shape.join(', ')}]`
        );
      }
      const pixelWeight = tf.add(1, tf.mul(weightInside - 1, inside));
      const batch = y.shape[0]!;
      const hasTarget = tf.greater(tf.max(tf.reshape(inside, [batch, -1]), 1), 0);
      const factorShape = [batch, ...new Array<number>(y.rank - 1).fill(1)];
      const sampleFactor = tf.reshape(tf.where(hasTarget, tf.onesLike(hasTarget).toFloat(), tf.fill([batch], noTargetFactor)), factorShape);
      const squared = tf.square(tf.sub(pred, target));
      return tf.mean(tf.mul(tf.mul(squared, pixelWeight), sampleFactor)) as tf.Scalar;
    });
  };
}
