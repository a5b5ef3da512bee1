import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionModel } from '../model.js';
import { overfitCheck } from './overfit-check.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function linear(): { model: FunctionModel; dispose(): void } {
  const w = tf.tidy(() => tf.variable(tf.zeros([1, 1])));
  const b = tf.tidy(() => tf.variable(tf.zeros([1])));
  return { model: { variables: [w, b], forward: (x) => tf.add(tf.matMul(x, w), b) }, dispose: () => tf.dispose([w, b]) };
}

describe('overfitCheck', () => {
  it('passes on a batch of 5 a linear model can fit, and predict agrees exactly', async () => {
    const { model, dispose } = linear();
    const x = tf.tensor2d([[-1], [-0.5], [0], [0.5], [1]]);
    const y = tf.tensor2d([[-1], [0], [1], [2], [3]]); // y = 2x + 1
    const optimizer = tf.train.sgd(0.3);
    const report = await expectNoLeak(() =>
      overfitCheck(model, { x, y }, { loss: 'meanSquaredError', optimizer, steps: 500, lossThreshold: 1e-4 })
    );
    expect(report.passed).toBe(true);
    const reached = report.reachedAtStep!;
    expect(report.losses).toHaveLength(reached + 1);
    expect(report.losses[reached]).toBeLessThan(1e-4);
    expect(report.losses.slice(0, reached).every((loss) => loss >= 1e-4)).toBe(true);
    expect(report.losses[0]).toBeCloseTo(3, 5); // mean of y² = (1 + 0 + 1 + 4 + 9) / 5
    expect(report.maxDifference).toBe(0);
    expect(report.predictAgrees).toBe(true);
    expect(report.modeDependentLayers).toEqual([]);
    expect(report.message).toMatch(/^loss reached .* < 0.0001 at step \d+; predict agrees with training mode/);
    expect(x.isDisposed || y.isDisposed).toBe(false);
    tf.dispose([x, y]);
    optimizer.dispose();
    dispose();
  });

  it('fails on a contradictory batch (one input, two labels): the loss cannot go below ln 2', async () => {
    const { model, dispose } = linear();
    const wide: FunctionModel = {
      variables: model.variables,
      forward: (input) => tf.concat([model.forward(input, { training: true }), tf.zerosLike(input)], 1),
    };
    const x = tf.tensor2d([[1], [1]]);
    const y = tf.tensor1d([0, 1], 'int32');
    const report = await expectNoLeak(() =>
      overfitCheck(wide, { x, y }, { loss: 'softmaxCrossEntropy', steps: 40, lossThreshold: 0.01 })
    );
    expect(report.passed).toBe(false);
    expect(report.reachedAtStep).toBeUndefined();
    expect(report.losses).toHaveLength(40);
    expect(report.bestLoss).toBeGreaterThanOrEqual(Math.log(2) - 1e-6);
    expect(report.message).toContain('loss did not get below 0.01 in 40 steps');
    tf.dispose([x, y]);
    dispose();
  });

  it('flags dropout: training-mode output differs from predict and the layer is named', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 16, inputShape: [4], activation: 'relu', name: 'hidden' }),
        tf.layers.dropout({ rate: 0.5, name: 'drop', seed: 1 }),
        tf.layers.dense({ units: 3, name: 'head' }),
      ],
    });
    const x = tf.tidy(() => tf.add(tf.ones([2, 4]), tf.tensor2d([[0, 1, 2, 3], [3, 2, 1, 0]])));
    const y = tf.tensor1d([0, 2], 'int32');
    const report = await overfitCheck(model, { x, y }, { loss: 'softmaxCrossEntropy', steps: 5, lossThreshold: 1e-9 });
    expect(report.modeDependentLayers).toEqual(['drop']);
    expect(report.predictAgrees).toBe(false);
    expect(report.maxDifference).toBeGreaterThan(0);
    expect(report.message).toContain('mode-dependent layers: drop');
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects bad options, naming them', async () => {
    const { model, dispose } = linear();
    const x = tf.tensor2d([[1]]);
    await expect(overfitCheck(model, { x, y: x }, { loss: 'meanSquaredError', steps: 0 })).rejects.toThrow(
      'options.steps must be a positive integer (received 0)'
    );
    await expect(overfitCheck(model, { x, y: x }, { loss: 'meanSquaredError', lossThreshold: -1 })).rejects.toThrow(
      'options.lossThreshold must be a positive number (received -1)'
    );
    x.dispose();
    dispose();
  });
});
