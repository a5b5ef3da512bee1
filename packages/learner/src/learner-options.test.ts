import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { Learner } from './learner.js';
import { meanMetric } from './metrics.js';
import { plugin } from './plugin.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A re-iterable source yielding fresh copies of fixed batches. */
function source(
  batches: { x: number[][]; y: number[][] | number[] }[],
  yDtype: 'float32' | 'int32' = 'float32'
): BatchSource {
  return {
    length: batches.length,
    *[Symbol.iterator](): Iterator<Batch> {
      for (const b of batches) yield { x: tf.tensor2d(b.x), y: tf.tensor(b.y, undefined, yDtype) };
    },
  };
}

describe('Learner options', () => {
  const w = () => tf.tidy(() => tf.variable(tf.zeros([1, 1])));
  const base = (variable: tf.Variable, optimizer: tf.Optimizer = tf.train.sgd(0.1)) => ({
    model: { variables: [variable], forward: (x: tf.Tensor) => tf.matMul(x, variable) },
    loss: 'meanSquaredError' as const,
    optimizer,
    train: source([{ x: [[1]], y: [[1]] }]),
  });

  it('rejects epochs that are not positive integers', async () => {
    await expectNoLeak(async () => {
      const variable = w();
      const sgd = tf.train.sgd(0.1);
      const learner = new Learner(base(variable, sgd));
      await expect(learner.fit(0)).rejects.toThrow('epochs must be a positive integer (received 0)');
      await expect(learner.fit(1.5)).rejects.toThrow('epochs must be a positive integer (received 1.5)');
      variable.dispose();
      sgd.dispose();
    });
  });

  it('rejects missing or one-shot training data, unknown losses and clashing metric names', async () => {
    await expectNoLeak(() => {
      const variable = w();
      const sgd = tf.train.sgd(0.1);
      const options = base(variable, sgd);
      expect(() => new Learner({ ...options, train: undefined as unknown as BatchSource })).toThrow(
        'train must be a BatchSource (an iterable of { x, y } batches; received undefined)'
      );
      function* once(): Generator<Batch> {}
      expect(() => new Learner({ ...options, train: once() })).toThrow('train must be re-iterable');
      expect(() => new Learner({ ...options, loss: 'hinge' as 'meanSquaredError' })).toThrow(
        'loss must be one of softmaxCrossEntropy, categoricalCrossEntropy, meanSquaredError, meanAbsoluteError or a function (pred, y) => tf.Scalar (received "hinge")'
      );
      const metric = meanMetric('m', (pred) => tf.mean(pred) as tf.Scalar);
      expect(
        () => new Learner({ ...options, metrics: [metric, meanMetric('m', (p) => tf.sum(p) as tf.Scalar)] })
      ).toThrow('metrics has two metrics named "m"; metric names must be unique');
      expect(() => new Learner({ ...options, metrics: [meanMetric('loss', (p) => tf.sum(p) as tf.Scalar)] })).toThrow(
        'metrics[0] is named "loss"'
      );
      expect(() => new Learner({ ...options, model: {} as never })).toThrow(
        'model must be a tf.LayersModel or a FunctionModel'
      );
      expect(() => new Learner({ ...options, seed: 0.5 })).toThrow('seed must be an integer (received 0.5)');
      variable.dispose();
      sgd.dispose();
    });
  });

  it('rejects a training source that yields nothing, a bad batch, and duplicate plugin names', async () => {
    await expectNoLeak(async () => {
      const variable = w();
      const sgd = tf.train.sgd(0.1);
      const empty = new Learner({ ...base(variable, sgd), train: [] });
      await expect(empty.fit(1)).rejects.toThrow('train yielded no batches in epoch 1');
      expect(empty.history.stopReason).toMatch(/^error: train yielded no batches/);
      const bad = new Learner({ ...base(variable, sgd), train: [{ x: [1] } as unknown as Batch] });
      await expect(bad.fit(1)).rejects.toThrow('train batch 0 must be an object { x: tf.Tensor, y: tf.Tensor }');
      const learner = new Learner(base(variable, sgd));
      learner.addPlugin(plugin('p', {}));
      expect(() => learner.addPlugin(plugin('p', {}))).toThrow('a plugin named "p" is already added');
      expect(learner.removePlugin('p').name).toBe('p');
      expect(() => learner.removePlugin('p')).toThrow('no plugin named "p" to remove (plugins: none)');
      variable.dispose();
      sgd.dispose();
    });
  });
});
