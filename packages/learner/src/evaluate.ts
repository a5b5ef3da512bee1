import * as tf from '@tensorflow/tfjs';
import { checkBatch, disposeBatch, type BatchSource } from './batch-source.js';
import { labelCheck, throwIfBadLabels, type LabelCheck } from './label-check.js';
import type { LossFunction } from './losses.js';
import type { Metric } from './metrics.js';
import type { ModelAdapter } from './model.js';

/** Called before each batch of an evaluation or prediction with its 0-based index; throws to stop (an interrupt). */
export type BatchBoundary = (index: number) => void | Promise<void>;

/** Options of {@link evaluate}. */
export interface EvaluateRun {
  /** Runs before each batch (interrupts). */
  boundary?: BatchBoundary;
  /** Check class-index labels against the model's output units (the built-in classification losses). */
  checkLabels?: boolean;
  /** The fit's 0-based epoch, for label errors during a fit's validation. */
  epoch?: number;
}

/**
 * Runs the model over `source` with `training: false` and returns the sample-weighted mean loss and each metric.
 * Disposes the batches; reads the device once for the losses (and label checks) and once per metric.
 */
export async function evaluate(
  model: ModelAdapter,
  lossFn: LossFunction,
  metrics: readonly Metric[],
  source: BatchSource,
  argument: string,
  options: EvaluateRun = {}
): Promise<Record<string, number>> {
  for (const metric of metrics) metric.reset();
  const losses: tf.Scalar[] = [];
  const sizes: number[] = [];
  const checks: LabelCheck[] = [];
  try {
    let index = 0;
    for await (const batch of source) {
      try {
        await options.boundary?.(index);
        checkBatch(batch, argument, index);
        losses.push(
          tf.tidy(() => {
            const pred = model.forward(batch.x, false);
            const loss = lossFn(pred, batch.y);
            for (const metric of metrics) metric.update(pred, batch.y);
            const check = options.checkLabels ? labelCheck(pred, batch.y, { argument, epoch: options.epoch, batch: index }) : undefined;
            if (check !== undefined) checks.push({ ...check, tensor: tf.keep(check.tensor) });
            return loss;
          })
        );
        sizes.push(batch.x.shape[0] ?? 1);
      } finally {
        disposeBatch(batch);
      }
      index++;
    }
    if (index === 0) throw new Error(`${argument} yielded no batches`);
    const joined = tf.tidy(() => tf.concat([tf.stack(losses), ...checks.map((check) => check.tensor)]));
    const read = Array.from(await joined.data());
    joined.dispose();
    checks.forEach((check, i) => throwIfBadLabels(check, read.slice(losses.length + 3 * i, losses.length + 3 * i + 3)));
    const values = read.slice(0, losses.length);
    const count = sizes.reduce((a, b) => a + b, 0);
    const loss = values.reduce((sum, value, i) => sum + value * sizes[i]!, 0) / count;
    const result: Record<string, number> = { loss };
    for (const metric of metrics) result[metric.name] = await metric.compute();
    return result;
  } finally {
    tf.dispose(losses);
    tf.dispose(checks.map((check) => check.tensor));
    for (const metric of metrics) metric.reset();
  }
}

/**
 * Runs the model with `training: false` on a tensor or on every batch of a source (batches concatenated along
 * the first axis). Returns a new tensor that the caller disposes; disposes the source's batches, not a tensor `x`.
 */
export async function predictWith(
  model: ModelAdapter,
  x: tf.Tensor | BatchSource,
  boundary?: BatchBoundary
): Promise<tf.Tensor> {
  if (x instanceof tf.Tensor) return tf.tidy(() => model.forward(x, false));
  const parts: tf.Tensor[] = [];
  try {
    let index = 0;
    for await (const batch of x) {
      try {
        await boundary?.(index);
        checkBatch(batch, 'x', index, false);
        parts.push(tf.tidy(() => model.forward(batch.x, false)));
      } finally {
        disposeBatch(batch);
      }
      index++;
    }
    if (parts.length === 0) throw new Error('x yielded no batches');
    return parts.length === 1 ? parts[0]!.clone() : tf.concat(parts, 0);
  } finally {
    tf.dispose(parts);
  }
}
