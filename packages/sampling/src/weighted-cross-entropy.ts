import * as tf from '@tensorflow/tfjs';
import { checkClassAxis, classTargets } from './loss-targets.js';
import { checkWeights } from './validate.js';

/** A loss for the learner's `loss` option: the batch's loss as a scalar. Does not dispose `pred` or `y`. */
export type SamplingLoss = (pred: tf.Tensor, y: tf.Tensor) => tf.Scalar;

/** Options of {@link weightedSoftmaxCrossEntropy}. */
export interface WeightedSoftmaxCrossEntropyOptions {
  /** One non-negative weight per class, not all zero (see `classWeights`). */
  classWeights: readonly number[];
}

/**
 * Softmax cross-entropy on logits with a weight per class, PyTorch's `CrossEntropyLoss(weight=…)`.
 *
 * Why: with imbalanced classes an unweighted loss is lowest for a model that favours the majority class; weighting
 * each sample by its class's weight (e.g. `classWeights(counts)`, inverse frequency) makes every class count.
 *
 * For logits `z_i`, labels `y_i` (one-hot, soft, or class indices) and weights `w`:
 * `ℓ_i = −Σ_c y_ic · log softmax(z_i)_c`, `s_i = Σ_c w_c · y_ic` (the weight of sample `i`'s class), and
 * `loss = Σ_i s_i · ℓ_i / Σ_i s_i` — a weighted mean, so the scale of the weights does not change the loss's scale
 * (0 when every sample's weight is 0). With equal weights it is the plain mean cross-entropy. Any leading shape
 * works (e.g. per-pixel classes `[B, H, W, K]`).
 *
 * @returns A loss `(pred, y) => tf.Scalar` for the learner's `loss` option; it returns a new scalar (the caller
 *   disposes it) and neither keeps nor disposes `pred` or `y`.
 * @throws at construction if a weight is negative or non-finite or all are zero; at call time if `pred`'s class
 *   count differs from the number of weights or `y` has the wrong shape.
 *
 * @example
 * ```ts
 * import { classWeights, countClasses, weightedSoftmaxCrossEntropy } from '@convkit/sampling';
 * const loss = weightedSoftmaxCrossEntropy({ classWeights: classWeights(countClasses(train.labels)) });
 * // new Learner({ model, loss, optimizer, train }) — or call it: loss(logits, labels) is a tf.Scalar
 * ```
 */
export function weightedSoftmaxCrossEntropy(options: WeightedSoftmaxCrossEntropyOptions): SamplingLoss {
  const weights = Array.from(checkWeights('classWeights', options?.classWeights));
  return (pred, y) => {
    checkClassAxis('weightedSoftmaxCrossEntropy', pred, weights.length);
    return tf.tidy(() => {
      const targets = classTargets('weightedSoftmaxCrossEntropy', pred, y);
      const classWeight = tf.tensor1d(weights, 'float32');
      const perSample = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(pred, -1)), -1));
      const sampleWeight = tf.sum(tf.mul(targets, classWeight), -1);
      // The total weight is a constant; when it is 0 the numerator is 0 too, and the loss 0.
      const totalWeight = tf.maximum(tf.sum(sampleWeight), 1e-30);
      return tf.div(tf.sum(tf.mul(sampleWeight, perSample)), totalWeight) as tf.Scalar;
    });
  };
}
