import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { Learner } from './learner.js';
import { TensorLeakError } from './leak-guard.js';
import { plugin } from './plugin.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 3 batches of 4 random 8×8×1 images, two classes, fresh tensors every epoch. */
function images(): BatchSource {
  return {
    length: 3,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < 3; b++) {
        yield { x: tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', b), y: tf.tensor1d([0, 1, 0, 1], 'int32') };
      }
    },
  };
}

describe('tensor ownership in a fit', () => {
  it('keeps the tensor count flat across epochs, and after the fit adds only the optimizer slots', async () => {
    await expectNoLeak(async () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2 }),
        ],
      });
      const momentum = tf.train.momentum(0.01, 0.9);
      const counts: number[] = [];
      const learner = new Learner({
        model,
        loss: 'softmaxCrossEntropy',
        optimizer: momentum,
        train: images(),
        valid: images(),
        plugins: [plugin('count', { afterEpoch: () => void counts.push(tf.memory().numTensors) })],
      });
      const before = tf.memory().numTensors;
      await learner.fit(3);
      expect(counts).toEqual([counts[0], counts[0], counts[0]]);
      // one momentum slot per trainable weight (2 conv + 2 dense)
      expect(tf.memory().numTensors).toBe(before + 4);
      learner.optimizer.dispose();
      model.dispose();
    });
  });
});

describe('leakGuard', () => {
  it('fails a fit whose tensor count grows, naming the plugin and event that left tensors behind', async () => {
    await expectNoLeak(async () => {
      const leaked: tf.Tensor[] = [];
      const leaky = plugin('leaky', { afterBatch: () => void leaked.push(tf.ones([2]), tf.ones([2])) });
      // replacing the batch and the gradients is fine: the loop disposes what was replaced
      const swapper = plugin('swapper', {
        beforeBatch(ctx) {
          ctx.batch = { x: tf.mul(ctx.batch!.x, 1), y: ctx.batch!.y };
        },
        afterBackward(ctx) {
          ctx.grads = ctx.grads!.map((g) => ({ ...g, gradient: tf.mul(g.gradient, 1) }));
        },
      });
      const tiny = tinyLearner({ batches: 3, validBatches: 1, leakGuard: true, plugins: [swapper, leaky] });
      // caught within fit(1): the window runs from the first completed step to the end of epoch 1's training
      const error = await tiny.learner.fit(1).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TensorLeakError);
      expect((error as Error).message).toBe(
        "tensor count grew by 4 over epoch 1's training (from its first step); plugin \"leaky\" left 4 tensors in afterBatch"
      );
      expect(tiny.learner.history.epochs).toHaveLength(0);
      tf.dispose(leaked);
      tiny.dispose();
    });
  });

  it('blames the taped hooks for tensors kept inside the tape', async () => {
    await expectNoLeak(async () => {
      const leaked: tf.Tensor[] = [];
      const keeper = plugin('keeper', { afterLoss: (ctx) => void leaked.push(tf.keep(tf.mul(ctx.loss!, 1))) });
      const tiny = tinyLearner({ batches: 3, validBatches: 0, leakGuard: true, plugins: [keeper] });
      await expect(tiny.learner.fit(1)).rejects.toThrow(
        "tensor count grew by 2 over epoch 1's training (from its first step); plugin \"keeper\" left 2 tensors in afterPred/afterLoss"
      );
      tf.dispose(leaked);
      tiny.dispose();
    });
  });

  it('blames the loss function for tensors it keeps, within fit(1)', async () => {
    await expectNoLeak(async () => {
      const leaked: tf.Tensor[] = [];
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
      const optimizer = tf.train.sgd(0.1);
      const leakyLoss = (pred: tf.Tensor, y: tf.Tensor): tf.Scalar => {
        leaked.push(tf.keep(tf.mul(pred, 1)));
        return tf.losses.meanSquaredError(tf.oneHot(tf.cast(y, 'int32'), 2), pred) as tf.Scalar;
      };
      const learner = new Learner({
        model,
        loss: leakyLoss,
        optimizer,
        leakGuard: true,
        train: {
          length: 3,
          *[Symbol.iterator](): Iterator<Batch> {
            for (let b = 0; b < 3; b++) yield { x: tf.ones([4, 2]), y: tf.tensor1d([0, 1, 0, 1], 'int32') };
          },
        },
      });
      const error = await learner.fit(1).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TensorLeakError);
      expect((error as TensorLeakError).event).toBe('loss');
      expect((error as TensorLeakError).plugin).toBeUndefined();
      expect((error as Error).message).toMatch(
        /^tensor count grew by \d+ over epoch 1's training \(from its first step\); the loss function left \d+ tensors? /
      );
      tf.dispose(leaked);
      optimizer.dispose();
      model.dispose();
    });
  });

  it('passes a clean fit with plugins that replace what the loop owns', async () => {
    await expectNoLeak(async () => {
      const scale = plugin('scale', {
        afterLoss(ctx) {
          ctx.loss = tf.mul(ctx.loss!, 2) as tf.Scalar;
        },
      });
      const tiny = tinyLearner({ batches: 2, leakGuard: true, plugins: [scale] });
      const history = await tiny.learner.fit(3);
      expect(history.stopReason).toBe('completed');
      tiny.dispose();
    });
  });
});
