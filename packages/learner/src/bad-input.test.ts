import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { Learner } from './learner.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A 2-class linear model over 2 features, and a source of `labels.length` batches of 3 samples. */
function setup(labels: number[][], options: { optimizer?: tf.Optimizer; dtype?: 'int32' | 'float32'; xRows?: number } = {}) {
  const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.1, -0.2], [0.3, 0.05]])));
  const train: BatchSource = {
    length: labels.length,
    *[Symbol.iterator](): Iterator<Batch> {
      for (const row of labels) {
        yield { x: tf.ones([options.xRows ?? row.length, 2]), y: tf.tensor1d(row, options.dtype ?? 'int32') };
      }
    },
  };
  const optimizer = options.optimizer ?? tf.train.sgd(0.1);
  const learner = new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'softmaxCrossEntropy',
    optimizer,
    train,
  });
  return {
    learner,
    weights: async () => Array.from(await w.data()),
    dispose: () => {
      w.dispose();
      learner.optimizer.dispose(); // the adapter also frees SGD's kept rate scalar
    },
  };
}

describe('bad labels', () => {
  it('refuses a class index out of range before the first step, naming the value and where it is', async () => {
    await expectNoLeak(async () => {
      const run = setup([[0, 7, 1]]);
      const before = await run.weights();
      await expect(run.learner.fit(1)).rejects.toThrow(
        'train labels (batch.y) must be class indices in [0, 2) for a model with 2 output units (received 7 at ' +
          'epoch 1, batch 0, sample 1: out of range; 1 bad label in that batch)'
      );
      expect(run.learner.stepCount).toBe(0);
      expect(await run.weights()).toEqual(before);
      run.dispose();
    });
  });

  it('refuses fractional and negative labels where class indices are expected', async () => {
    await expectNoLeak(async () => {
      const fractional = setup([[0.5, 1, 0]], { dtype: 'float32' });
      await expect(fractional.learner.fit(1)).rejects.toThrow(
        'received 0.5 at epoch 1, batch 0, sample 0: not a class index (labels must be integers); 1 bad label'
      );
      expect(fractional.learner.stepCount).toBe(0);
      fractional.dispose();
      const negative = setup([[0, 1, -1]]);
      await expect(negative.learner.fit(1)).rejects.toThrow('(received -1 at epoch 1, batch 0, sample 2: out of range');
      negative.dispose();
      // integral float labels are fine
      const floats = setup([[0, 1, 1]], { dtype: 'float32' });
      expect((await floats.learner.fit(1)).stopReason).toBe('completed');
      floats.dispose();
    });
  });

  it('finds a bad label in a later batch with the batched read at the epoch end', async () => {
    await expectNoLeak(async () => {
      const run = setup([[0, 1, 0], [1, 1, 0], [0, 1, 2]]);
      await expect(run.learner.fit(2)).rejects.toThrow('(received 2 at epoch 1, batch 2, sample 2: out of range');
      expect(run.learner.history.epochs).toHaveLength(0);
      run.dispose();
    });
  });

  it('checks validation labels too, with the losses in one read', async () => {
    await expectNoLeak(async () => {
      const run = setup([[0, 1, 0]]);
      const bad: BatchSource = [{ x: tf.ones([2, 2]), y: tf.tensor1d([1, 5], 'int32') }];
      await expect(run.learner.validate(bad)).rejects.toThrow(
        'data labels (batch.y) must be class indices in [0, 2) for a model with 2 output units (received 5 at batch 0, sample 1: out of range'
      );
      run.dispose();
    });
  });

  it('refuses an empty batch and a batch whose inputs and targets differ in count', async () => {
    await expectNoLeak(async () => {
      const empty = setup([[]]);
      await expect(empty.learner.fit(1)).rejects.toThrow(
        'train batch 0 is empty: x has shape [0, 2] (expected at least one sample)'
      );
      empty.dispose();
      const uneven = setup([[0, 1]], { xRows: 3 });
      await expect(uneven.learner.fit(1)).rejects.toThrow(
        'train batch 0 has 3 inputs but 2 targets: x has shape [3, 2], y has shape [2] (expected the same first dimension)'
      );
      uneven.dispose();
    });
  });
});

describe('bad optimizer hyperparameters', () => {
  it.each([
    [Number.NaN, 'optimizer hyperparameter learningRate must be a finite number (received NaN)'],
    [Number.POSITIVE_INFINITY, 'optimizer hyperparameter learningRate must be a finite number (received Infinity)'],
    [-0.1, 'optimizer hyperparameter learningRate must be >= 0 (received -0.1)'],
  ])('refuses tf.train.sgd(%s) at fit start', async (rate, message) => {
    const run = setup([[0, 1, 0]], { optimizer: tf.train.sgd(rate) });
    const before = await run.weights();
    await expect(run.learner.fit(1)).rejects.toThrow(message);
    expect(run.learner.stepCount).toBe(0);
    expect(await run.weights()).toEqual(before);
    run.dispose();
  });

  it('refuses a NaN momentum of tf.train.momentum', async () => {
    const run = setup([[0, 1, 0]], { optimizer: tf.train.momentum(0.1, Number.NaN) });
    await expect(run.learner.fit(1)).rejects.toThrow('optimizer hyperparameter momentum must be a finite number (received NaN)');
    run.dispose();
  });
});
