import * as tf from '@tensorflow/tfjs';
import { checkClassAxis, classTargets } from './loss-targets.js';
import { describe } from './validate.js';
import type { SamplingLoss } from './weighted-cross-entropy.js';

/** Options of {@link focalLoss}. */
export interface FocalLossOptions {
  /** The focusing parameter γ ≥ 0; 0 gives cross-entropy. Defaults to `2` (Lin et al.'s best). */
  gamma?: number;
  /**
   * The class balance α. With a single output (sigmoid), a number in [0, 1]: the weight of the positive class,
   * `1 − α` that of the negative (Lin et al. use 0.25). With `K ≥ 2` outputs (softmax), one non-negative weight per
   * class. Defaults to none (every class weighs 1).
   */
  alpha?: number | readonly number[];
  /** Whether `pred` holds logits (`'logits'`) or probabilities (`'probabilities'`). Defaults to `'logits'`. */
  from?: 'logits' | 'probabilities';
}

const EPSILON = 1e-7;

/**
 * Focal loss (Lin et al., "Focal Loss for Dense Object Detection", 2017): cross-entropy scaled down on samples the
 * model already classifies well, so that many easy examples of a common class do not swamp the rare, hard ones.
 *
 * With `p_t` the predicted probability of the true class: `FL = −α_t · (1 − p_t)^γ · log(p_t)`, averaged over the
 * samples (and any other leading positions).
 * - A single output (`pred` of shape `[..., 1]`, `y` 0/1 of the same size): `p = sigmoid(z)`, `p_t = p` when
 *   `y = 1` else `1 − p`, `α_t = α` when `y = 1` else `1 − α` — the paper's binary form.
 * - `K ≥ 2` outputs: `p = softmax(z)` and, for one-hot, soft or index labels `y`,
 *   `FL = −Σ_c α_c · y_c · (1 − p_c)^γ · log(p_c)`.
 * `γ = 0` and no `α` give the plain (sigmoid or softmax) cross-entropy.
 *
 * Options: `gamma` (defaults to `2`); `alpha` (defaults to none); `from` (defaults to `'logits'`).
 *
 * @returns A loss `(pred, y) => tf.Scalar` for the learner's `loss` option; it returns a new scalar (the caller
 *   disposes it) and neither keeps nor disposes `pred` or `y`.
 * @throws at construction if `gamma` is negative or non-finite, `alpha` is out of range, or `from` is unknown; at
 *   call time if `alpha` does not fit `pred` (a number needs one output, an array one entry per class).
 *
 * @example
 * ```ts
 * import { focalLoss } from '@convkit/sampling';
 * const loss = focalLoss({ gamma: 2, alpha: [0.5, 0.6, 1.9, 3.6] }); // 4 classes, softmax logits
 * const binary = focalLoss({ gamma: 2, alpha: 0.25 });                // one sigmoid logit per sample
 * ```
 */
export function focalLoss(options: FocalLossOptions = {}): SamplingLoss {
  const { gamma = 2, alpha, from = 'logits' } = options;
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma < 0) {
    throw new Error(`gamma must be a finite number >= 0 (received ${describe(gamma)})`);
  }
  if (from !== 'logits' && from !== 'probabilities') {
    throw new Error(`from must be 'logits' or 'probabilities' (received ${describe(from)})`);
  }
  if (typeof alpha === 'number' && !(alpha >= 0 && alpha <= 1)) {
    throw new Error(`alpha must be a number in [0, 1] or one weight per class (received ${alpha})`);
  }
  if (alpha !== undefined && typeof alpha !== 'number') {
    if (!Array.isArray(alpha) || alpha.length < 2) {
      throw new Error(`alpha must be a number in [0, 1] or an array of one weight per class (received ${describe(alpha)})`);
    }
    for (const [c, value] of alpha.entries()) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Error(`alpha[${c}] must be a finite number >= 0 (received ${describe(value)})`);
      }
    }
  }
  const alphas = alpha === undefined || typeof alpha === 'number' ? undefined : [...alpha];
  const modulate = (oneMinusP: tf.Tensor): tf.Tensor => (gamma === 0 ? tf.onesLike(oneMinusP) : tf.pow(oneMinusP, gamma));

  const binary = (pred: tf.Tensor, y: tf.Tensor): tf.Scalar => {
    if (alphas !== undefined) {
      throw new Error(`focalLoss: alpha must be a number in [0, 1] for a single (sigmoid) output (received ${describe(alphas)})`);
    }
    if (y.size !== pred.size) {
      throw new Error(`focalLoss: y must have one 0/1 target per output, shape [${pred.shape.join(', ')}] (received shape [${y.shape.join(', ')}])`);
    }
    return tf.tidy(() => {
      const target = tf.cast(y, 'float32').reshape(pred.shape);
      const [logP, logNotP] =
        from === 'logits'
          ? [tf.neg(tf.softplus(tf.neg(pred))), tf.neg(tf.softplus(pred))] // log σ(z), log σ(−z)
          : [tf.log(tf.clipByValue(pred, EPSILON, 1)), tf.log(tf.clipByValue(tf.sub(1, pred), EPSILON, 1))];
      const positiveWeight = alpha === undefined ? 1 : (alpha as number);
      const negativeWeight = alpha === undefined ? 1 : 1 - (alpha as number);
      const positive = tf.mul(tf.mul(modulate(tf.sub(1, tf.exp(logP))), logP), tf.mul(target, positiveWeight));
      const negative = tf.mul(tf.mul(modulate(tf.sub(1, tf.exp(logNotP))), logNotP), tf.mul(tf.sub(1, target), negativeWeight));
      return tf.neg(tf.mean(tf.add(positive, negative))) as tf.Scalar;
    });
  };

  return (pred, y) => {
    if (pred.rank >= 1 && pred.shape[pred.rank - 1] === 1) return binary(pred, y);
    checkClassAxis('focalLoss', pred, alphas?.length);
    if (typeof alpha === 'number') {
      throw new Error(
        `focalLoss: alpha must be one weight per class for ${pred.shape[pred.rank - 1]} (softmax) outputs (received ${alpha})`
      );
    }
    return tf.tidy(() => {
      const targets = classTargets('focalLoss', pred, y);
      const logP = from === 'logits' ? tf.logSoftmax(pred, -1) : tf.log(tf.clipByValue(pred, EPSILON, 1));
      let perClass = tf.mul(tf.mul(targets, modulate(tf.sub(1, tf.exp(logP)))), logP);
      if (alphas !== undefined) perClass = tf.mul(perClass, tf.tensor1d(alphas, 'float32'));
      return tf.neg(tf.mean(tf.sum(perClass, -1))) as tf.Scalar;
    });
  };
}
