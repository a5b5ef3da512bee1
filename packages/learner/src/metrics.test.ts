import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { accuracy, meanMetric } from './metrics.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('accuracy', () => {
  it('counts argmax matches over batches, with index or one-hot labels, logits or probabilities', async () => {
    await expectNoLeak(async () => {
      const metric = accuracy();
      const logits = tf.tensor2d([
        [2, 1, 0],
        [0, 3, 1],
        [0, 0, 5],
      ]); // argmax 0, 1, 2
      const indices = tf.tensor1d([0, 2, 2], 'int32'); // 2 of 3 right
      const probabilities = tf.tensor2d([
        [0.1, 0.9],
        [0.6, 0.4],
      ]); // argmax 1, 0 — different class count is fine per batch
      const oneHot = tf.tensor2d([
        [0, 1],
        [0, 1],
      ]); // 1 of 2 right
      metric.update(logits, indices);
      expect(await metric.compute()).toBeCloseTo(2 / 3, 6);
      metric.update(probabilities, oneHot);
      expect(await metric.compute()).toBeCloseTo(3 / 5, 6);
      metric.reset();
      expect(await metric.compute()).toBeNaN();
      tf.dispose([logits, indices, probabilities, oneHot]);
    });
  });

  it('keeps no reference to its inputs and refuses single-column scores', async () => {
    await expectNoLeak(async () => {
      const metric = accuracy();
      const pred = tf.tensor2d([[1, 0]]);
      const y = tf.tensor1d([0], 'int32');
      metric.update(pred, y);
      tf.dispose([pred, y]);
      expect(await metric.compute()).toBe(1);
      const column = tf.tensor2d([[0.3]]);
      expect(() => metric.update(column, y)).toThrow(
        'accuracy needs class scores with a last dimension of at least 2 (received shape [1, 1])'
      );
      column.dispose();
      metric.reset();
    });
  });
});

describe('meanMetric', () => {
  it('averages per-batch means weighted by batch size', async () => {
    await expectNoLeak(async () => {
      const metric = meanMetric('meanPred', (pred) => tf.mean(pred) as tf.Scalar);
      const a = tf.tensor2d([[1], [1], [1]]); // mean 1 over 3 samples
      const b = tf.tensor2d([[5]]); // mean 5 over 1 sample
      metric.update(a, a);
      metric.update(b, b);
      expect(await metric.compute()).toBeCloseTo((3 * 1 + 5) / 4, 6);
      metric.reset();
      tf.dispose([a, b]);
    });
  });

  it('rejects a non-scalar result naming the metric', async () => {
    await expectNoLeak(async () => {
      const metric = meanMetric('bad', (pred) => pred as tf.Scalar);
      const a = tf.tensor2d([[1], [2]]);
      expect(() => metric.update(a, a)).toThrow('metric "bad" must return a scalar (received shape [2, 1])');
      a.dispose();
      metric.reset();
    });
  });
});
