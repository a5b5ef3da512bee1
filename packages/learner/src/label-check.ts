import * as tf from '@tensorflow/tfjs';

/** Where a batch's labels were checked: the phase's argument name, the epoch (0-based) and the batch index. */
export interface LabelSite {
  argument: string;
  /** The fit's epoch, when the check runs in a fit. */
  epoch: number | undefined;
  batch: number;
}

/** A pending label check: a `[badCount, firstBadIndex, firstBadValue]` tensor and where it came from. */
export interface LabelCheck {
  tensor: tf.Tensor1D;
  site: LabelSite;
  classes: number;
  /** Labels per sample (1 for one label per sample, H·W for a segmentation map). */
  perSample: number;
}

/**
 * For class-index labels (`y` with one dimension less than `pred`), one fused reduction that finds labels that are
 * not integers in `[0, classes)` (out of range, fractional, NaN): a new `[3]` tensor `[count, firstIndex,
 * firstValue]` (flat index into `y`), which the caller reads with other values in one `data()` and disposes.
 * Returns undefined for one-hot or soft labels (nothing to check cheaply). Does not dispose `pred` or `y`.
 */
export function labelCheck(pred: tf.Tensor, y: tf.Tensor, site: LabelSite): LabelCheck | undefined {
  if (pred.rank < 1 || y.rank !== pred.rank - 1 || y.size === 0) return undefined;
  const classes = pred.shape[pred.rank - 1]!;
  const tensor = tf.tidy(() => {
    const values = tf.cast(tf.reshape(y, [-1]), 'float32');
    const bad = tf.logicalOr(
      tf.logicalOr(tf.less(values, 0), tf.greaterEqual(values, classes)),
      tf.notEqual(values, tf.floor(values))
    );
    const badFloat = tf.cast(bad, 'float32');
    // Reshaped: tfjs-backend-webgpu's argMax of a 1-D tensor has shape [1], not [] (and stack needs equal shapes).
    const first = tf.reshape(tf.argMax(badFloat), []);
    return tf.stack([tf.sum(badFloat), tf.cast(first, 'float32'), tf.reshape(tf.gather(values, first), [])]) as tf.Tensor1D;
  });
  return { tensor, site, classes, perSample: y.rank === 0 ? 1 : y.size / Math.max(1, y.shape[0]!) };
}

/** Throws the error for a read label check whose count is not zero. */
export function throwIfBadLabels(check: LabelCheck, values: ArrayLike<number>): void {
  const count = values[0]!;
  if (count === 0) return;
  const sample = Math.floor(values[1]! / check.perSample);
  const value = values[2]!;
  const { argument, epoch, batch } = check.site;
  const integral = Number.isInteger(value);
  const what = integral ? 'out of range' : 'not a class index (labels must be integers)';
  throw new Error(
    `${argument} labels (batch.y) must be class indices in [0, ${check.classes}) for a model with ${check.classes} ` +
      `output units (received ${String(value)} at ${epoch === undefined ? '' : `epoch ${epoch + 1}, `}batch ${batch}, sample ${sample}: ${what}; ` +
      `${count} bad label${count === 1 ? '' : 's'} in that batch)`
  );
}
