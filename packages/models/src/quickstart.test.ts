import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { QUICKSTART_RECIPE, quickstartModel } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Parameters of a layer with bias: (fanIn + 1) · out. */
const withBias = (fanIn: number, out: number): number => (fanIn + 1) * out;

describe('quickstartModel', () => {
  it('maps [n, 28, 28, 1] to 10 logits with the layer shapes and 105,866 parameters of the quick start', async () => {
    await expectNoLeak(async () => {
      const model = quickstartModel(createRng(42));
      expect(model.layers.map((layer) => layer.outputShape)).toEqual([
        [null, 28, 28, 16],
        [null, 14, 14, 16],
        [null, 14, 14, 32],
        [null, 7, 7, 32],
        [null, 7 * 7 * 32],
        [null, 64],
        [null, 10],
      ]);
      const expected = withBias(3 * 3 * 1, 16) + withBias(3 * 3 * 16, 32) + withBias(7 * 7 * 32, 64) + withBias(64, 10);
      expect(expected).toBe(105_866);
      expect(model.countParams()).toBe(expected);
      const out = tf.tidy(() => model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor);
      expect(out.shape).toEqual([3, 10]);
      out.dispose();
      expect(model.layers.at(-1)!.getConfig()['activation']).toBe('linear');
      model.dispose();
    });
  });

  it('draws He-normal kernels from the rng: the same seed gives the same weights, another seed others', async () => {
    await expectNoLeak(async () => {
      const a = quickstartModel(createRng(1));
      const b = quickstartModel(1);
      const c = quickstartModel(createRng(2));
      const kernel = async (m: tf.LayersModel, i: number): Promise<Float32Array> => (await m.getWeights()[i]!.data()) as Float32Array;
      expect(await kernel(a, 0)).toEqual(await kernel(b, 0));
      expect(await kernel(a, 0)).not.toEqual(await kernel(c, 0));
      // He normal: std = sqrt(2 / fanIn) for the dense layer (fanIn 1568), within 5% over 100k draws.
      const dense = await kernel(a, 4);
      const std = Math.sqrt(dense.reduce((sum, v) => sum + v * v, 0) / dense.length);
      expect(Math.abs(std / Math.sqrt(2 / 1568) - 1)).toBeLessThan(0.05);
      [a, b, c].forEach((m) => m.dispose());
    });
  });

  it('keeps the recipe of the quick start and refuses a bad rng', () => {
    expect(QUICKSTART_RECIPE).toEqual({ batchSize: 64, peakLearningRate: 2e-3 });
    expect(Object.isFrozen(QUICKSTART_RECIPE)).toBe(true);
    expect(() => quickstartModel('42' as never)).toThrow("rng must be a convkit Rng (createRng(seed)) or an integer seed (received '42')");
  });
});
