import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import { activationStats } from './activation-stats.js';
import { layerOutputs } from './layer-outputs.js';
import { tensorStats, valueStats } from './tensor-stats.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * x = [[1, -2], [3, 0]] through relu(x·[[1, −1], [1, −1]]) = [[0, 1], [3, 0]], then ·[[1], [1]] = [[1], [3]].
 * With MSE to 0: dL/dout = out = [1, 3], so dL/dK2 = hᵀ·[1, 3] = [9, 1].
 */
function model(): tf.Sequential {
  const built = tf.sequential({
    layers: [
      tf.layers.dense({ units: 2, inputShape: [2], useBias: false, activation: 'relu', name: 'hidden' }),
      tf.layers.dense({ units: 1, useBias: false, name: 'out' }),
    ],
  });
  tf.tidy(() => {
    built.getLayer('hidden').setWeights([tf.tensor2d([[1, -1], [1, -1]])]);
    built.getLayer('out').setWeights([tf.tensor2d([[1], [1]])]);
  });
  return built;
}

const train: BatchSource = {
  length: 4,
  *[Symbol.iterator](): Iterator<Batch> {
    for (let i = 0; i < 4; i++) yield { x: tf.tensor2d([[1, -2], [3, 0]]), y: tf.tensor2d([[0], [0]]) };
  },
};

describe('valueStats', () => {
  it('computes mean, std, extremes, zero and saturated fractions and a histogram', () => {
    const stats = valueStats([0, 1, 3, 0], { bins: 2 });
    expect(stats).toEqual({
      count: 4,
      mean: 1,
      std: Math.sqrt(1.5),
      min: 0,
      max: 3,
      zeroFraction: 0.5,
      saturatedFraction: 0.5,
      nonFinite: 0,
      histogram: { edges: [0, 1.5, 3], counts: [3, 1] },
    });
  });

  it('leaves non-finite values out of the moments and counts them; clamps values outside a range to the end bins', () => {
    const stats = valueStats([Number.NaN, -5, 0.5, Number.POSITIVE_INFINITY, 5], { bins: 4, range: [-1, 1], saturation: 0.5 });
    expect(stats.nonFinite).toBe(2);
    expect(stats.mean).toBeCloseTo(0.5 / 3, 12);
    expect(stats.histogram).toEqual({ edges: [-1, -0.5, 0, 0.5, 1], counts: [1, 0, 0, 2] });
    expect(stats.saturatedFraction).toBeCloseTo(3 / 5, 12);
  });

  it('rejects bad options, naming them', () => {
    expect(() => valueStats([1], { bins: 0 })).toThrow('options.bins must be a positive integer (received 0)');
    expect(() => valueStats([1], { range: [1, 1] })).toThrow('options.range must be [low, high] with low < high (received [1,1])');
  });
});

describe('tensorStats', () => {
  it('reads a tensor without disposing it', async () => {
    const t = tf.tensor([0, 1, -1, 0.5]);
    const stats = await expectNoLeak(() => tensorStats(t, { bins: 4 }));
    expect(stats.zeroFraction).toBe(0.25);
    expect(t.isDisposed).toBe(false);
    t.dispose();
  });
});

describe('layerOutputs', () => {
  it('returns each layer output in model order; a FunctionModel gives none', async () => {
    const m = model();
    const x = tf.tensor2d([[1, -2], [3, 0]]);
    const values = await expectNoLeak(() => {
      const outputs = layerOutputs(m, x);
      const result = outputs.map(({ layer, className, output }) => ({ layer, className, values: Array.from(output.dataSync()) }));
      tf.dispose(outputs.map((o) => o.output));
      return result;
    });
    expect(values).toEqual([
      { layer: 'hidden', className: 'Dense', values: [0, 1, 3, 0] },
      { layer: 'out', className: 'Dense', values: [1, 3] },
    ]);
    expect(layerOutputs({ variables: [], forward: (input) => input }, x)).toEqual([]);
    x.dispose();
    m.dispose();
  });
});

describe('activationStats', () => {
  it('records activation and gradient statistics of each layer every N steps', async () => {
    const m = model();
    const optimizer = tf.train.sgd(0);
    const stats = activationStats({ every: 2, bins: 2 });
    await expectNoLeak(() => new Learner({ model: m, loss: 'meanSquaredError', optimizer, train, plugins: [stats] }).fit(1));
    const records = stats.records;
    expect(records.map((r) => [r.step, r.kind, r.layer])).toEqual([
      [0, 'activation', 'hidden'],
      [0, 'activation', 'out'],
      [0, 'gradient', 'hidden'],
      [0, 'gradient', 'out'],
      [2, 'activation', 'hidden'],
      [2, 'activation', 'out'],
      [2, 'gradient', 'hidden'],
      [2, 'gradient', 'out'],
    ]);
    expect(records[0]).toMatchObject({ mean: 1, zeroFraction: 0.5, histogram: { edges: [0, 1.5, 3], counts: [3, 1] } });
    expect(records[1]).toMatchObject({ mean: 2, std: 1, min: 1, max: 3 });
    expect(records[3]!.variable).toBe(m.getLayer('out').trainableWeights[0]!.name);
    expect(records[3]).toMatchObject({ mean: 5, min: 1, max: 9, std: 4 });
    optimizer.dispose();
    m.dispose();
  });

  it('keeps only the layers asked for, by name or class, and resets on each fit', async () => {
    const m = model();
    const optimizer = tf.train.sgd(0);
    const stats = activationStats({ every: 4, layers: ['out'], gradients: false });
    const learner = new Learner({ model: m, loss: 'meanSquaredError', optimizer, train, plugins: [stats] });
    await learner.fit(1);
    await learner.fit(1);
    expect(stats.records.map((r) => [r.step, r.kind, r.layer])).toEqual([[4, 'activation', 'out']]);
    const byClass = activationStats({ every: 4, layers: ['Dense'] });
    await new Learner({ model: m, loss: 'meanSquaredError', optimizer, train, plugins: [byClass] }).fit(1);
    expect(byClass.records).toHaveLength(4);
    expect(() => activationStats({ every: 0 })).toThrow('options.every must be a positive integer (received 0)');
    optimizer.dispose();
    m.dispose();
  });
});
