import * as tf from '@tensorflow/tfjs';
import { checkBatch, disposeBatch, type BatchSource } from './batch-source.js';
import type { LossFunction } from './losses.js';
import { readScalars } from './loss-buffer.js';
import type { Metric } from './metrics.js';
import type { ModelAdapter } from './model.js';

/**
 * Runs the model over `source` with `training: false` and returns the sample-weighted mean loss and each metric.
 * Disposes the batches; reads the device once for the losses and once per metric.
 */
export async function evaluate(
  model: ModelAdapter,
  lossFn: LossFunction,
  metrics: readonly Metric[],
  source: BatchSource,
  argument: string
): Promise<Record<string, number>> {
  for (const metric of metrics) metric.reset();
  const losses: tf.Scalar[] = [];
  const sizes: number[] = [];
  try {
    let index = 0;
    for await (const batch of source) {
      try {
        checkBatch(batch, argument, index);
        losses.push(
          tf.tidy(() => {
            const pred = model.forward(batch.x, false);
            const loss = lossFn(pred, batch.y);
            for (const metric of metrics) metric.update(pred, batch.y);
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
    const values = await readScalars(losses);
    const count = sizes.reduce((a, b) => a + b, 0);
    const loss = values.reduce((sum, value, i) => sum + value * sizes[i]!, 0) / count;
    const result: Record<string, number> = { loss };
    for (const metric of metrics) result[metric.name] = metric.compute();
    return result;
  } finally {
    tf.dispose(losses);
    for (const metric of metrics) metric.reset();
  }
}

/**
 * Runs the model with `training: false` on a tensor or on every batch of a source (batches concatenated along
 * the first axis). Returns a new tensor that the caller disposes; disposes the source's batches, not a tensor `x`.
 */
export async function predictWith(model: ModelAdapter, x: tf.Tensor | BatchSource): Promise<tf.Tensor> {
  if (x instanceof tf.Tensor) return tf.tidy(() => model.forward(x, false));
  const parts: tf.Tensor[] = [];
  try {
    let index = 0;
    for await (const batch of x) {
      try {
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
