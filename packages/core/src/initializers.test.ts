import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from './testing.js';
import { createRng } from './rng.js';
import {
  computeFans,
  constantScaleNormal,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  lecunNormal,
  ones,
  varianceScaling,
  zeros,
} from './initializers.js';
import type { Initializer } from './initializers.js';
import { toLayersInitializer } from './layers-initializer.js';

interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
  values: Float32Array;
}

async function sample(init: Initializer, shape: number[], seed = 1): Promise<Stats> {
  return expectNoLeak(() => {
    const tensor = init.create(shape, createRng(seed));
    expect(tensor.shape).toEqual(shape);
    expect(tensor.dtype).toBe('float32');
    const values = tensor.dataSync() as Float32Array;
    tensor.dispose();
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const mean = sum / values.length;
    const std = Math.sqrt(values.reduce((acc, v) => acc + (v - mean) ** 2, 0) / values.length);
    return { mean, std, min, max, values };
  });
}

describe('computeFans', () => {
  it('follows Keras for scalars, vectors, dense and conv kernels', () => {
    expect(computeFans([])).toEqual({ fanIn: 1, fanOut: 1 });
    expect(computeFans([7])).toEqual({ fanIn: 7, fanOut: 7 });
    expect(computeFans([784, 100])).toEqual({ fanIn: 784, fanOut: 100 });
    expect(computeFans([3, 3, 32, 64])).toEqual({ fanIn: 288, fanOut: 576 });
    expect(() => computeFans([2, -1])).toThrow('shape must be an array of non-negative integers (received [2,-1])');
  });
});

describe('varianceScaling', () => {
  // Conv kernel [3, 3, 16, 32]: fanIn 144, fanOut 288, fanAvg 216; 4608 values → std error of std ≈ 1%.
  const shape = [3, 3, 16, 32];
  const fans = { fanIn: 144, fanOut: 288, fanAvg: 216 } as const;

  for (const mode of ['fanIn', 'fanOut', 'fanAvg'] as const) {
    for (const distribution of ['truncatedNormal', 'normal', 'uniform'] as const) {
      it(`${distribution} over ${mode} has std sqrt(scale / fan) and mean 0`, async () => {
        const scale = 2;
        const stats = await sample(varianceScaling({ scale, mode, distribution }), shape);
        const expected = Math.sqrt(scale / fans[mode]);
        expect(Math.abs(stats.std / expected - 1)).toBeLessThan(0.05);
        expect(Math.abs(stats.mean)).toBeLessThan((5 * expected) / Math.sqrt(4608));
        if (distribution === 'uniform') {
          const limit = Math.sqrt(3) * expected;
          expect(stats.min).toBeGreaterThanOrEqual(-limit);
          expect(stats.max).toBeLessThanOrEqual(limit);
          expect(stats.max).toBeGreaterThan(0.98 * limit);
        }
        if (distribution === 'truncatedNormal') {
          const bound = (2 * expected) / 0.879_625_661_034_239_78;
          expect(Math.max(-stats.min, stats.max)).toBeLessThanOrEqual(bound * (1 + 1e-6));
          expect(stats.max).toBeGreaterThan(0.95 * bound);
        }
        if (distribution === 'normal') {
          // An untruncated normal exceeds 2.6 std in about 1% of 4608 draws.
          expect(stats.values.some((v) => Math.abs(v) > 2.6 * expected)).toBe(true);
        }
      });
    }
  }

  it('is reproducible from the seed and differs across seeds', async () => {
    const init = varianceScaling();
    const a = await sample(init, [50, 20], 5);
    const b = await sample(init, [50, 20], 5);
    const c = await sample(init, [50, 20], 6);
    expect(a.values).toEqual(b.values);
    expect(a.values).not.toEqual(c.values);
  });

  it('rejects bad options and dtypes with the value received', () => {
    expect(() => varianceScaling({ scale: 0 })).toThrow('scale must be a positive number (received 0)');
    expect(() => varianceScaling({ mode: 'fanMax' as 'fanIn' })).toThrow("mode must be 'fanIn', 'fanOut' or 'fanAvg' (received \"fanMax\")");
    expect(() => varianceScaling({ distribution: 'cauchy' as 'normal' })).toThrow('distribution must be');
    expect(() => varianceScaling().create([2, 2], createRng(0), 'int32' as 'float32')).toThrow("dtype must be 'float32' (received 'int32')");
  });
});

describe('named initializers', () => {
  const shape = [3, 3, 16, 32]; // fanIn 144, fanOut 288
  const cases: [string, Initializer, number, boolean][] = [
    ['glorotUniform', glorotUniform(), Math.sqrt(1 / 216), true],
    ['glorotNormal', glorotNormal(), Math.sqrt(1 / 216), false],
    ['heNormal', heNormal(), Math.sqrt(2 / 144), false],
    ['heUniform', heUniform(), Math.sqrt(2 / 144), true],
    ['lecunNormal', lecunNormal(), Math.sqrt(1 / 144), false],
  ];
  for (const [name, init, expected, uniform] of cases) {
    it(`${name} has std ${expected.toFixed(4)} on a [3, 3, 16, 32] kernel`, async () => {
      expect(init.name).toBe(name);
      const stats = await sample(init, shape, 3);
      expect(Math.abs(stats.std / expected - 1)).toBeLessThan(0.05);
      const bound = uniform ? Math.sqrt(3) * expected : (2 * expected) / 0.879_625_661_034_239_78;
      expect(Math.max(-stats.min, stats.max)).toBeLessThanOrEqual(bound * (1 + 1e-6));
    });
  }

  it('constantScaleNormal ignores fans: the same std for a small and a large layer', async () => {
    for (const shape of [[10, 10], [3, 3, 64, 64]]) {
      const stats = await sample(constantScaleNormal({ stddev: 0.01, mean: 0.5 }), shape, 9);
      expect(Math.abs(stats.std / 0.01 - 1)).toBeLessThan(shape[0] === 10 ? 0.2 : 0.03);
      expect(Math.abs(stats.mean - 0.5)).toBeLessThan(0.01 * 5 / Math.sqrt(100));
    }
    expect(() => constantScaleNormal({ stddev: -1 })).toThrow('stddev must be a non-negative number (received -1)');
  });

  it('zeros and ones fill constants', async () => {
    expect([...(await sample(zeros(), [2, 3])).values]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...(await sample(ones(), [4])).values]).toEqual([1, 1, 1, 1]);
  });
});

describe('toLayersInitializer', () => {
  it('gives a tf.layers.dense kernel drawn from the rng, with He std, reproducibly', async () => {
    const build = (seed: number): Float32Array =>
      tf.tidy(() => {
        const model = tf.sequential({
          layers: [tf.layers.dense({ inputShape: [400], units: 50, kernelInitializer: toLayersInitializer(heNormal(), createRng(seed)) })],
        });
        const kernel = model.getWeights()[0]!.dataSync() as Float32Array;
        model.dispose();
        return kernel;
      });
    const kernel = await expectNoLeak(() => build(4));
    const mean = kernel.reduce((a, b) => a + b, 0) / kernel.length;
    const std = Math.sqrt(kernel.reduce((a, b) => a + (b - mean) ** 2, 0) / kernel.length);
    expect(kernel.length).toBe(20_000);
    expect(Math.abs(std / Math.sqrt(2 / 400) - 1)).toBeLessThan(0.03);
    expect(await expectNoLeak(() => build(4))).toEqual(kernel);
    expect(await expectNoLeak(() => build(5))).not.toEqual(kernel);
  });

  it('serialises in a model topology and reloads from it', async () => {
    await expectNoLeak(async () => {
      const model = tf.sequential({
        layers: [tf.layers.dense({ inputShape: [3], units: 2, kernelInitializer: toLayersInitializer(glorotUniform(), createRng(1)) })],
      });
      const topology = model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'];
      const text = JSON.stringify(topology);
      expect(text).toContain('"kernel_initializer":{"class_name":"ConvkitInitializer","config":{"name":"glorotUniform"}}');
      const loaded = await tf.models.modelFromJSON({ modelTopology: topology });
      expect(loaded.layers[0]!.getConfig()['kernelInitializer']).toEqual({ className: 'ConvkitInitializer', config: { name: 'glorotUniform' } });
      model.dispose();
      loaded.dispose();
    });
  });

  it('rejects things that are not initializers', () => {
    expect(() => toLayersInitializer({} as Initializer, createRng(0))).toThrow('init must be a convkit Initializer');
  });
});
