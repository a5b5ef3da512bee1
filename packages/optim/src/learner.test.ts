import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { Learner, plugin, type Batch, type BatchSource } from '@convkit/learner';
import { beforeAll, describe, expect, it } from 'vitest';
import { adam, rmsprop, sgd } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A re-iterable source of fresh tensors (the learner disposes every batch). */
function source(batches: { x: number[][]; y: number[][] }[]): BatchSource {
  return {
    length: batches.length,
    *[Symbol.iterator](): Iterator<Batch> {
      for (const { x, y } of batches) yield { x: tf.tensor2d(x), y: tf.tensor2d(y) };
    },
  };
}

/** y = 2·x0 − 3·x1 + 0.5 on a fixed grid, in 4 batches of 4. */
function regressionData(): { x: number[][]; y: number[][] }[] {
  const rows = Array.from({ length: 16 }, (_, i) => [((i % 4) - 1.5) / 2, (Math.floor(i / 4) - 1.5) / 2]);
  return [0, 1, 2, 3].map((b) => {
    const x = rows.slice(b * 4, b * 4 + 4);
    return { x, y: x.map(([x0, x1]) => [2 * x0! - 3 * x1! + 0.5]) };
  });
}

describe('use with the Learner', () => {
  it('trains a tiny model with adam: the epoch loss falls by over 90% and tf.memory() stays flat', async () => {
    await expectNoLeak(async () => {
      const w = tf.tidy(() => tf.variable(tf.zeros([2, 1])));
      const b = tf.tidy(() => tf.variable(tf.zeros([1])));
      const optimizer = adam({ learningRate: 0.1 });
      const learner = new Learner({
        model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
        loss: 'meanSquaredError',
        optimizer,
        train: source(regressionData()),
        leakGuard: true,
      });
      const history = await learner.fit(30);
      const losses = history.epochs.map((epoch) => epoch.train.loss!);
      expect(losses[losses.length - 1]!).toBeLessThan(0.1 * losses[0]!);
      expect(history.epochs[0]!.hypers).toEqual({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
      optimizer.dispose();
      tf.dispose([w, b]);
    });
  });

  it('ctx.hypers.learningRate = x in a plugin sets the rate of the very next step (Δw = −x·g)', async () => {
    await expectNoLeak(async () => {
      const w = tf.tidy(() => tf.variable(tf.ones([1, 1])));
      const optimizer = sgd({ learningRate: 0.1 });
      const setRate = plugin(
        'setRate',
        {
          beforeStep(ctx) {
            ctx.hypers.learningRate = 0.3;
          },
        },
        { writes: ['hyper.learningRate'] }
      );
      const learner = new Learner({
        model: { variables: [w], forward: (x) => tf.matMul(x, w) },
        loss: 'meanSquaredError',
        optimizer,
        train: source([{ x: [[1], [2]], y: [[0], [0]] }]),
        plugins: [setRate],
      });
      const history = await learner.fit(1);
      // loss = mean((x·w)²) = 2.5 at w = 1; dloss/dw = mean(2·x²·w) = 5; w = 1 − 0.3·5
      expect(w.dataSync()[0]).toBeCloseTo(-0.5, 6);
      expect(history.steps[0]).toMatchObject({ loss: 2.5, hypers: { learningRate: 0.3 } });
      expect(optimizer.getHyper('learningRate')).toBe(0.3);
      optimizer.dispose();
      w.dispose();
    });
  });

  it('with parameter groups, ctx.hypers sets every group and the history records group 0', async () => {
    await expectNoLeak(async () => {
      const w = tf.tidy(() => tf.variable(tf.ones([2, 1])));
      const b = tf.tidy(() => tf.variable(tf.zeros([1])));
      const optimizer = rmsprop({ learningRate: 0.01, paramGroups: [{ variables: [w], hypers: { learningRate: 0.001 } }, {}] });
      const setMomentum = plugin(
        'setMomentum',
        {
          beforeFit(ctx) {
            ctx.hypers.momentum = 0.5;
          },
        },
        { writes: ['hyper.momentum'] }
      );
      const learner = new Learner({
        model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) },
        loss: 'meanSquaredError',
        optimizer,
        train: source(regressionData()),
        plugins: [setMomentum],
      });
      const history = await learner.fit(1);
      expect(optimizer.getHypers().map((group) => [group.learningRate, group.momentum])).toEqual([
        [0.001, 0.5],
        [0.01, 0.5],
      ]);
      expect(history.steps.every((step) => step.hypers.learningRate === 0.001 && step.hypers.momentum === 0.5)).toBe(true);
      optimizer.dispose();
      tf.dispose([w, b]);
    });
  });
});
