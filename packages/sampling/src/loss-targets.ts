import * as tf from '@tensorflow/tfjs';

/**
 * Class targets as float one-hot (or soft) labels shaped like `pred`: `y` may have `pred`'s shape, or hold class
 * indices with one dimension less. Returns a new tensor (the caller disposes it).
 */
export function classTargets(lossName: string, pred: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const classes = pred.shape[pred.rank - 1] ?? 0;
  if (y.rank === pred.rank && tf.util.arraysEqual(y.shape, pred.shape)) return tf.cast(y, 'float32');
  if (y.rank === pred.rank - 1 && tf.util.arraysEqual(y.shape, pred.shape.slice(0, -1))) {
    return tf.tidy(() => tf.oneHot(tf.cast(y, 'int32').flatten(), classes).reshape(pred.shape).toFloat());
  }
  throw new Error(
    `${lossName}: y must be one-hot with pred's shape [${pred.shape.join(', ')}] or class indices of shape ` +
      `[${pred.shape.slice(0, -1).join(', ')}] (received shape [${y.shape.join(', ')}])`
  );
}

/** Checks that `pred` has a class axis of `expected` entries (when given) and at least 2. */
export function checkClassAxis(lossName: string, pred: tf.Tensor, expected?: number): void {
  const classes = pred.rank >= 1 ? pred.shape[pred.rank - 1]! : 0;
  if (pred.rank < 2 || classes < 2) {
    throw new Error(`${lossName}: pred must hold class scores [..., classes >= 2] (received shape [${pred.shape.join(', ')}])`);
  }
  if (expected !== undefined && classes !== expected) {
    throw new Error(
      `${lossName}: pred has ${classes} classes in its last dimension but the class weights have ${expected} entries`
    );
  }
}
