import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import type { LearnerModel } from '../model.js';
import { NonFiniteError, nanGuard } from './nan-guard.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function source(x: number[][], y: number[][], batches = 3): BatchSource {
  return {
    length: batches,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let i = 0; i < batches; i++) yield { x: tf.tensor2d(x), y: tf.tensor2d(y) };
    },
  };
}

/** 2 → 3 → 3 → 1 dense network with constant weights; `poison` puts NaN in the middle layer's bias. */
function denseModel(poison: boolean): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 3, inputShape: [2], activation: 'relu', name: 'first' }),
      tf.layers.dense({ units: 3, name: 'middle' }),
      tf.layers.dense({ units: 1, name: 'last' }),
    ],
  });
  tf.tidy(() => {
    model.getLayer('first').setWeights([tf.fill([2, 3], 0.5), tf.zeros([3])]);
    model.getLayer('middle').setWeights([tf.fill([3, 3], 0.1), tf.tensor1d([0, poison ? Number.NaN : 0, 0])]);
    model.getLayer('last').setWeights([tf.fill([3, 1], 0.2), tf.zeros([1])]);
  });
  return model;
}

async function fit(model: LearnerModel, train: BatchSource, guard = nanGuard()) {
  const optimizer = tf.train.sgd(0.1);
  const learner = new Learner({ model, loss: 'meanSquaredError', optimizer, train, plugins: [guard] });
  const history = await learner.fit(2);
  optimizer.dispose();
  return { history, guard, steps: learner.stepCount };
}

describe('nanGuard', () => {
  it('stops at the first NaN loss and names the first layer whose output is non-finite', async () => {
    const model = denseModel(true);
    const firstKernel = Array.from(model.getLayer('first').getWeights()[0]!.dataSync());
    const { history, guard, steps } = await expectNoLeak(() => fit(model, source([[1, 2]], [[1]])));
    expect(steps).toBe(0);
    expect(guard.report).toMatchObject({
      kind: 'non-finite-loss',
      step: 0,
      epoch: 0,
      batch: 0,
      firstLayer: 'middle',
    });
    expect(guard.report!.loss).toBeNaN();
    expect(history.stopReason).toBe(
      'cancelled by plugin "nanGuard" in afterBackward: the loss is NaN at step 0 (epoch 0, batch 0); ' +
        'first non-finite layer output: "middle"'
    );
    // the step was not applied
    expect(Array.from(model.getLayer('first').getWeights()[0]!.dataSync())).toEqual(firstKernel);
    model.dispose();
  });

  it('names the variables with non-finite gradients when the loss is finite', async () => {
    // y = sqrt(x·w) at w = 0: the loss is 0, d sqrt / d u = Infinity, and 0 · Infinity = NaN in the gradient
    const w = tf.tidy(() => tf.variable(tf.zeros([1, 1]), true, 'sqrtWeight'));
    const b = tf.tidy(() => tf.variable(tf.zeros([1]), true, 'fineBias'));
    const model: LearnerModel = { variables: [w, b], forward: (x) => tf.add(tf.sqrt(tf.matMul(x, w)), b) };
    const { guard, history } = await fit(model, source([[1]], [[0]]));
    expect(guard.report).toMatchObject({
      kind: 'non-finite-gradient',
      loss: 0,
      firstLayer: undefined,
      nonFiniteGradients: ['sqrtWeight'],
      firstGradientLayer: 'sqrtWeight',
    });
    expect(history.stopReason).toContain('gradients are non-finite (sqrtWeight)');
    tf.dispose([w, b]);
  });

  it('reports a non-finite input batch', async () => {
    const model = denseModel(false);
    const { guard } = await fit(model, source([[Number.POSITIVE_INFINITY, 1]], [[1]]));
    expect(guard.report?.kind).toBe('non-finite-input');
    model.dispose();
  });

  it('lets a healthy fit complete and resets its report on the next fit', async () => {
    const guard = nanGuard();
    const bad = denseModel(true);
    await fit(bad, source([[1, 2]], [[1]]), guard);
    expect(guard.report).toBeDefined();
    const good = denseModel(false);
    const { history, steps } = await fit(good, source([[1, 2]], [[1]]), guard);
    expect(history.stopReason).toBe('completed');
    expect(steps).toBe(6);
    expect(guard.report).toBeUndefined();
    bad.dispose();
    good.dispose();
  });

  it('throws a NonFiniteError, a CancelFit with the report', () => {
    const report = {
      kind: 'non-finite-loss' as const,
      step: 1,
      epoch: 0,
      batch: 1,
      loss: Number.NaN,
      firstLayer: 'a',
      nonFiniteGradients: [],
      firstGradientLayer: undefined,
      message: 'm',
    };
    const error = new NonFiniteError(report);
    expect(error.level).toBe('fit');
    expect(error.report).toBe(report);
    expect(() => nanGuard({ every: 0 })).toThrow('options.every must be a positive integer (received 0)');
  });
});
