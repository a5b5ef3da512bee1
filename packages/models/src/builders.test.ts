import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { glorotUniform, heNormal } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { convAutoencoder, mlp, modifiedVgg, smallConvNet, smallResNet, vgg16 } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Parameters of a conv layer with bias: (k·k·in + 1)·out. */
const conv = (k: number, inChannels: number, out: number): number => (k * k * inChannels + 1) * out;
const dense = (inputs: number, out: number): number => (inputs + 1) * out;

async function outputShape(model: tf.LayersModel, shape: number[]): Promise<number[]> {
  return tf.tidy(() => (model.predict(tf.zeros(shape)) as tf.Tensor).shape);
}

describe('smallConvNet', () => {
  it('gives logits of numClasses and (k·k·in+1)·out parameters per conv layer', async () => {
    await expectNoLeak(async () => {
      const model = smallConvNet({ inputShape: [8, 8, 3], numClasses: 5, filters: [4, 6], dense: [7] });
      expect(await outputShape(model, [2, 8, 8, 3])).toEqual([2, 5]);
      expect(model.getLayer('conv_1').countParams()).toBe(conv(3, 3, 4));
      expect(model.getLayer('conv_2').countParams()).toBe(conv(3, 4, 6));
      // 8 → pool 4 → pool 2: flatten 2·2·6 = 24
      expect(model.countParams()).toBe(conv(3, 3, 4) + conv(3, 4, 6) + dense(24, 7) + dense(7, 5));
      expect(model.getLayer('head_logits').getConfig()['activation']).toBe('linear');
      model.dispose();
    });
  });

  it('strides shrink the map to ceil(size / stride) and depth adds one halving per block', async () => {
    await expectNoLeak(() => {
      const strided = smallConvNet({ inputShape: [9, 9, 1], numClasses: 2, filters: [2, 3], strides: [2, 1], pooling: 'none', dense: [] });
      expect(strided.getLayer('conv_1').outputShape).toEqual([null, 5, 5, 2]);
      expect(strided.getLayer('flatten').outputShape).toEqual([null, 5 * 5 * 3]);
      const everyTwo = smallConvNet({ inputShape: [9, 9, 1], numClasses: 2, filters: [2, 3], strides: 2, pooling: 'none', dense: [] });
      expect(everyTwo.getLayer('flatten').outputShape).toEqual([null, 3 * 3 * 3]);
      const deep = smallConvNet({ inputShape: [16, 16, 1], numClasses: 2, filters: [2, 2, 2], pooling: 'average', dense: [] });
      expect(deep.getLayer('flatten').outputShape).toEqual([null, 2 * 2 * 2]);
      expect(deep.getLayer('pool_1').getClassName()).toBe('AveragePooling2D');
      [strided, everyTwo, deep].forEach((m) => m.dispose());
    });
  });

  it('applies LeakyReLU with the given alpha', async () => {
    await expectNoLeak(() => {
      const model = smallConvNet({ inputShape: [4, 4, 1], numClasses: 2, filters: [2], activation: { leakyRelu: 0.2 }, dense: [3] });
      const act = model.getLayer('act_1');
      expect(act.getClassName()).toBe('LeakyReLU');
      expect(act.getConfig()['alpha']).toBeCloseTo(0.2, 6);
      const values = tf.tidy(() => Array.from((act.apply(tf.tensor1d([-1, 2])) as tf.Tensor).dataSync()));
      expect(values[0]).toBeCloseTo(-0.2, 6);
      expect(values[1]).toBeCloseTo(2, 6);
      model.dispose();
    });
  });

  it('draws the kernel from the initializer (He normal std = sqrt(2 / fanIn)) and the seed fixes it', async () => {
    await expectNoLeak(() => {
      const options = { inputShape: [6, 6, 4] as const, numClasses: 2, filters: [64], dense: [], initializer: heNormal(), seed: 3 };
      const a = smallConvNet(options);
      const b = smallConvNet(options);
      const c = smallConvNet({ ...options, seed: 4 });
      const kernel = (m: tf.LayersModel): Float32Array => m.getLayer('conv_1').getWeights()[0]?.dataSync() as Float32Array;
      const values = kernel(a);
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      expect(values.length).toBe(3 * 3 * 4 * 64);
      expect(Math.abs(std / Math.sqrt(2 / 36) - 1)).toBeLessThan(0.06);
      expect(Array.from(kernel(b))).toEqual(Array.from(values));
      expect(Array.from(kernel(c))).not.toEqual(Array.from(values));
      const glorot = smallConvNet({ ...options, initializer: glorotUniform() });
      const limit = Math.sqrt(6 / (36 + 9 * 64));
      expect(Math.max(...Array.from(kernel(glorot)).map(Math.abs))).toBeLessThanOrEqual(limit);
      [a, b, c, glorot].forEach((m) => m.dispose());
    });
  });

  it('rejects bad options with a message naming the option and value', () => {
    const base = { inputShape: [8, 8, 1] as const, numClasses: 2 };
    expect(() => smallConvNet({ ...base, filters: [4, -1] })).toThrow('filters[1] must be a positive integer (received -1)');
    expect(() => smallConvNet({ ...base, activation: { leakyRelu: -0.1 } })).toThrow('activation.leakyRelu must be a finite number >= 0 (received -0.1)');
    expect(() => smallConvNet({ ...base, pooling: 'median' as 'max' })).toThrow("pooling must be one of 'max', 'average', 'none' (received 'median')");
    expect(() => smallConvNet({ ...base, strides: [1] })).toThrow('strides must be a number or an array of 2 integers');
    expect(() => smallConvNet({ ...base, numClasses: 0 })).toThrow('numClasses must be a positive integer (received 0)');
    expect(() => smallConvNet({ ...base, lr: 1 } as never)).toThrow("smallConvNet got an unknown option 'lr'");
    expect(() => smallConvNet({ inputShape: [2, 2, 1], numClasses: 2, filters: [2, 2, 2] })).toThrow('inputShape [2,2,1] is too small');
  });
});

describe('modifiedVgg', () => {
  it('pads 28→32 and has the write-up layout: 4 VGG blocks, FC 4096, FC 10 (16,067,786 parameters)', async () => {
    await expectNoLeak(() => {
      const model = modifiedVgg({ numClasses: 10 });
      expect(model.layers.map((l) => l.name)).toEqual([
        'pad', 'block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1', 'block2_conv2', 'block2_pool',
        'block3_conv1', 'block3_conv2', 'block3_conv3', 'block3_pool', 'block4_conv1', 'block4_conv2', 'block4_conv3', 'block4_pool',
        'flatten', 'head_fc1', 'head_logits',
      ]);
      expect(model.getLayer('pad').outputShape).toEqual([null, 32, 32, 1]);
      expect(model.getLayer('block4_pool').outputShape).toEqual([null, 2, 2, 512]);
      const convs = conv(3, 1, 64) + conv(3, 64, 64) + conv(3, 64, 128) + conv(3, 128, 128) + conv(3, 128, 256)
        + 2 * conv(3, 256, 256) + conv(3, 256, 512) + 2 * conv(3, 512, 512);
      expect(model.countParams()).toBe(convs + dense(2 * 2 * 512, 4096) + dense(4096, 10));
      expect(model.countParams()).toBe(16_067_786);
      model.dispose();
    });
  });

  it('centres the image in the zero padding and predicts numClasses', async () => {
    await expectNoLeak(async () => {
      const model = modifiedVgg({ numClasses: 3, widthDivisor: 16, fc: 8 });
      const padded = tf.tidy(() => (model.getLayer('pad').apply(tf.ones([1, 28, 28, 1])) as tf.Tensor).arraySync() as number[][][][]);
      const image = padded[0] as number[][][];
      expect(image[1]?.[1]?.[0]).toBe(0);
      expect(image[2]?.[2]?.[0]).toBe(1);
      expect(image[29]?.[29]?.[0]).toBe(1);
      expect(image[30]?.[30]?.[0]).toBe(0);
      expect(await outputShape(model, [2, 28, 28, 1])).toEqual([2, 3]);
      const five = modifiedVgg({ numClasses: 3, widthDivisor: 16, fc: [8, 8], dropBlock5: false });
      expect(five.getLayer('block5_pool').outputShape).toEqual([null, 1, 1, 32]);
      expect(five.getLayer('head_fc2').outputShape).toEqual([null, 8]);
      model.dispose();
      five.dispose();
    });
  });

  it('rejects a padTo smaller than the input or not divisible by 16', () => {
    expect(() => modifiedVgg({ numClasses: 10, padTo: 24 })).toThrow('padTo must be >= the input');
    expect(() => modifiedVgg({ numClasses: 10, padTo: 40 })).toThrow('padTo must be divisible by 16 for 4 2×2 pools (received 40)');
  });
});

describe('vgg16', () => {
  it("has VGG-16's 13 convolutions with Keras's 14,714,688 convolution parameters", async () => {
    await expectNoLeak(() => {
      const model = vgg16({ inputShape: [32, 32, 3], numClasses: 10, fc: 8 });
      const convLayers = model.layers.filter((l) => l.getClassName() === 'Conv2D');
      expect(convLayers.length).toBe(13);
      expect(convLayers.reduce((s, l) => s + l.countParams(), 0)).toBe(14_714_688);
      expect(model.getLayer('block5_pool').outputShape).toEqual([null, 1, 1, 512]);
      expect(model.getLayer('head_fc2').outputShape).toEqual([null, 8]);
      model.dispose();
    });
  });

  it('predicts numClasses at a reduced width and refuses sizes not divisible by 32', async () => {
    await expectNoLeak(async () => {
      const model = vgg16({ inputShape: [32, 32, 3], numClasses: 4, fc: [6], widthDivisor: 32 });
      expect(await outputShape(model, [1, 32, 32, 3])).toEqual([1, 4]);
      model.dispose();
    });
    expect(() => vgg16({ inputShape: [28, 28, 3], numClasses: 4 })).toThrow('divisible by 32');
  });
});

describe('smallResNet', () => {
  it('uses projection shortcuts on stride-2 stages only and predicts numClasses', async () => {
    await expectNoLeak(async () => {
      const model = smallResNet({ inputShape: [8, 8, 3], numClasses: 5, blocks: [1, 2], filters: [4, 8] });
      const names = model.layers.map((l) => l.name);
      expect(names).not.toContain('stage1_block1_shortcut_conv');
      expect(names).toContain('stage2_block1_shortcut_conv');
      expect(names).not.toContain('stage2_block2_shortcut_conv');
      expect(model.getLayer('stage2_block1_add').outputShape).toEqual([null, 4, 4, 8]);
      const bn = (c: number): number => 4 * c; // gamma, beta, moving mean, moving variance
      const convNoBias = (k: number, i: number, o: number): number => k * k * i * o;
      const expected = convNoBias(3, 3, 4) + bn(4)
        + 2 * (convNoBias(3, 4, 4) + bn(4))
        + convNoBias(3, 4, 8) + bn(8) + convNoBias(3, 8, 8) + bn(8) + convNoBias(1, 4, 8) + bn(8)
        + 2 * (convNoBias(3, 8, 8) + bn(8))
        + dense(8, 5);
      expect(model.countParams()).toBe(expected);
      expect(await outputShape(model, [2, 8, 8, 3])).toEqual([2, 5]);
      model.dispose();
    });
    expect(() => smallResNet({ inputShape: [8, 8, 3], numClasses: 5, blocks: [1, 1], filters: [4] })).toThrow('filters must have one entry per stage');
  });
});

describe('convAutoencoder', () => {
  it('reconstructs the input shape with sigmoid outputs in (0, 1)', async () => {
    await expectNoLeak(() => {
      const model = convAutoencoder({ inputShape: [8, 12, 2], filters: [3, 4], latentFilters: 2 });
      expect(model.getLayer('latent').outputShape).toEqual([null, 2, 3, 2]);
      const [shape, min, max] = tf.tidy(() => {
        const out = model.predict(tf.randomUniform([2, 8, 12, 2], 0, 1, 'float32', 1)) as tf.Tensor;
        return [out.shape, out.min().dataSync()[0] as number, out.max().dataSync()[0] as number] as const;
      });
      expect(shape).toEqual([2, 8, 12, 2]);
      expect(min).toBeGreaterThan(0);
      expect(max).toBeLessThan(1);
      model.dispose();
    });
    expect(() => convAutoencoder({ inputShape: [6, 8, 1], filters: [2, 2] })).toThrow('divisible by 4');
  });
});

describe('mlp', () => {
  it('maps inputSize features to outputSize linear outputs', async () => {
    await expectNoLeak(async () => {
      const model = mlp({ inputSize: 3, hidden: [8, 8], outputSize: 1, activation: 'tanh' });
      expect(model.countParams()).toBe(dense(3, 8) + dense(8, 8) + dense(8, 1));
      expect(await outputShape(model, [5, 3])).toEqual([5, 1]);
      expect(model.getLayer('act_1').getConfig()['activation']).toBe('tanh');
      model.dispose();
    });
    expect(() => mlp({ inputSize: 3, outputSize: 1, activation: 'swish' as 'relu' })).toThrow("activation must be one of 'relu'");
  });
});
