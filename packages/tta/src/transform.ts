import type * as tf from '@tensorflow/tfjs';

/**
 * A test-time augmentation transform: a name plus a finite list of `params`, one view per param.
 *
 * Why: TTA must be deterministic and finite (ttach's design), so each transform lists the exact
 * params it will predict over, and `deaugment` maps a spatial output (a mask or an image) back
 * onto the input's grid. Class scores need no deaugmentation.
 *
 * - `params`: the params, one view each. Includes `identityParam` when the transform has one.
 * - `identityParam`: the param that leaves the image unchanged, or `undefined` (crops have none).
 * - `invertible`: whether `deaugment` exists for spatial outputs (crops: `false`).
 * - `augment(x, param)`: returns a new tensor; the caller disposes it. Does not dispose `x`.
 * - `deaugment(y, param)`: returns a new tensor; the caller disposes it. Does not dispose `y`.
 *   Throws when `invertible` is `false`.
 *
 * @example
 * ```ts
 * const flip = horizontalFlip();
 * const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
 * const y = flip.augment(x, true);        // mirrored left-right
 * const back = flip.deaugment(y, true);   // equals x
 * tf.dispose([x, y, back]);
 * ```
 */
export interface TTATransform<P = unknown> {
  readonly name: string;
  readonly params: readonly P[];
  readonly identityParam: P | undefined;
  readonly invertible: boolean;
  augment(x: tf.Tensor4D, param: P): tf.Tensor4D;
  deaugment(y: tf.Tensor4D, param: P): tf.Tensor4D;
}

/** Throws unless `value` is a positive integer; the message names `name` and the value. */
export function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer (received ${String(value)})`);
  }
}

/** Throws unless `x` is a rank-4 NHWC tensor; the message names `name` and the shape. */
export function checkImageBatch(name: string, x: tf.Tensor): asserts x is tf.Tensor4D {
  if (x.rank !== 4) {
    throw new Error(`${name} must be a rank-4 [batch, height, width, channels] tensor (received shape [${x.shape.join(', ')}])`);
  }
}
