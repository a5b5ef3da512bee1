import * as tf from '@tensorflow/tfjs';
import { createRng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import type { Plugin } from '../plugin.js';
import { gradientAccumulation } from './gradient-accumulation.js';
import { gradientClipping } from './gradient-clipping.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Data {
  x: number[][];
  y: number[];
}

/** 3 features, 3 classes, seeded. */
function makeData(samples: number, seed: number): Data {
  const rng = createRng(seed);
  const x = Array.from({ length: samples }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const y = Array.from({ length: samples }, () => rng.int(0, 3));
  return { x, y };
}

/** Batches of the given sizes, in order, over `data`. */
function source(data: Data, sizes: number[]): BatchSource {
  return {
    length: sizes.length,
    *[Symbol.iterator](): Iterator<Batch> {
      let start = 0;
      for (const size of sizes) {
        yield {
          x: tf.tensor2d(data.x.slice(start, start + size)),
          y: tf.tensor1d(data.y.slice(start, start + size), 'int32'),
        };
        start += size;
      }
    },
  };
}

/** Trains a seeded 3→4→3 network (tanh hidden layer) and returns its weights and step count. */
async function train(
  data: Data,
  sizes: number[],
  plugins: Plugin[],
  makeOptimizer: () => tf.Optimizer,
  epochs = 1
): Promise<{ weights: number[]; steps: number; historySteps: number }> {
  const rng = createRng(7);
  const init = (shape: number[]): tf.Variable =>
    tf.tidy(() => tf.variable(tf.tensor(Array.from({ length: shape[0]! * (shape[1] ?? 1) }, () => rng.normal(0, 0.5)), shape)));
  const w1 = init([3, 4]);
  const b1 = init([4]);
  const w2 = init([4, 3]);
  const b2 = init([3]);
  const optimizer = makeOptimizer();
  const learner = new Learner({
    model: {
      variables: [w1, b1, w2, b2],
      forward: (x) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)), w2), b2),
    },
    loss: 'softmaxCrossEntropy',
    optimizer,
    train: source(data, sizes),
    plugins,
  });
  const history = await learner.fit(epochs);
  const weights = [w1, b1, w2, b2].flatMap((v) => Array.from(v.dataSync()));
  tf.dispose([w1, b1, w2, b2]);
  optimizer.dispose();
  return { weights, steps: learner.stepCount, historySteps: history.steps.length };
}

function maxDifference(a: number[], b: number[]): number {
  return Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
}

describe('gradientAccumulation', () => {
  it('gives the same weights after one update from 4 batches of 3 as one step on a batch of 12 (SGD)', async () => {
    const data = makeData(12, 1);
    const big = await train(data, [12], [], () => tf.train.sgd(0.5));
    const accumulated = await expectNoLeak(() => train(data, [3, 3, 3, 3], [gradientAccumulation(4)], () => tf.train.sgd(0.5)));
    expect(accumulated.steps).toBe(1);
    expect(accumulated.historySteps).toBe(1);
    expect(maxDifference(accumulated.weights, big.weights)).toBeLessThan(1e-6);
    const plain = await train(data, [3, 3, 3, 3], [], () => tf.train.sgd(0.5));
    expect(maxDifference(plain.weights, big.weights)).toBeGreaterThan(1e-3);
  });

  it('matches the big batch over several updates and epochs with momentum (k = 2, 2 epochs)', async () => {
    const data = makeData(16, 2);
    const big = await train(data, [8, 8], [], () => tf.train.momentum(0.2, 0.9), 2);
    const accumulated = await train(data, [4, 4, 4, 4], [gradientAccumulation(2)], () => tf.train.momentum(0.2, 0.9), 2);
    expect(accumulated.steps).toBe(4);
    expect(maxDifference(accumulated.weights, big.weights)).toBeLessThan(1e-6);
  });

  it('weights micro-batches by their sample counts, so uneven batches (5 + 3) equal one batch of 8', async () => {
    const data = makeData(8, 3);
    const big = await train(data, [8], [], () => tf.train.sgd(0.5));
    const accumulated = await train(data, [5, 3], [gradientAccumulation(2)], () => tf.train.sgd(0.5));
    expect(maxDifference(accumulated.weights, big.weights)).toBeLessThan(1e-6);
  });

  it('with gradientClipping, clips the accumulated gradient, as clipping the big batch does', async () => {
    const data = makeData(12, 4);
    const big = await train(data, [12], [gradientClipping({ norm: 0.05 })], () => tf.train.sgd(1));
    const accumulated = await train(
      data,
      [6, 6],
      [gradientClipping({ norm: 0.05 }), gradientAccumulation(2)],
      () => tf.train.sgd(1)
    );
    expect(maxDifference(accumulated.weights, big.weights)).toBeLessThan(1e-6);
  });

  it('k = 1 changes nothing, and a bad k is an error naming it', async () => {
    const data = makeData(6, 5);
    const plain = await train(data, [3, 3], [], () => tf.train.sgd(0.5));
    const one = await train(data, [3, 3], [gradientAccumulation(1)], () => tf.train.sgd(0.5));
    expect(maxDifference(one.weights, plain.weights)).toBeLessThan(1e-7);
    expect(() => gradientAccumulation(0)).toThrow('steps must be a positive integer (received 0)');
    expect(() => gradientAccumulation(2.5)).toThrow('(received 2.5)');
  });

  it('frees its sums when the fit ends with a partial accumulation', async () => {
    const data = makeData(9, 6);
    const plugin = gradientAccumulation(2);
    const result = await expectNoLeak(() => train(data, [3, 3, 3], [plugin], () => tf.train.sgd(0.5)));
    expect(result.steps).toBe(1);
    expect(plugin.pending).toBe(0);
  });
});
