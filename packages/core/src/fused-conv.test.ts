import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng } from './rng.js';
import { expectNoLeak, relativeError } from './testing.js';
import { kernelServedBy, listKernelAssignments, withKernelProviders } from './kernel-registry.js';
import { conv2dLayer, fusedConv2d } from './fused-conv.js';
import { RELU_BIAS_GRAD_KERNEL } from './relu-gradient.js';
import { useWasmWithNative } from './native-wasm.test-helpers.js';

// References: tfjs's own tf.layers.conv2d / tf.fused.conv2d with the same weights, on the same backend (its training
// path runs Conv2D, Add, Relu and their gradients as separate kernels), and on cpu (tfjs's plain JavaScript kernels).
const rng = createRng(57);

useWasmWithNative();

function normal(shape: number[]): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.normal()), shape);
}

interface Case {
  x: number[];
  filter: number[];
  strides: number;
  pad: 'same' | 'valid';
  bias: boolean;
}

const CASES: Case[] = [
  { x: [4, 12, 12, 3], filter: [3, 3, 3, 8], strides: 1, pad: 'same', bias: true },
  { x: [3, 11, 9, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'valid', bias: true },
  { x: [2, 8, 8, 4], filter: [1, 1, 4, 16], strides: 1, pad: 'same', bias: false },
];

/** The output and the gradients of Σ c ⊙ conv(x) with respect to x, the filter and the bias. */
async function valuesAndGradients(
  conv: (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined) => tf.Tensor,
  x: tf.Tensor,
  filter: tf.Tensor,
  bias: tf.Tensor | undefined,
  c: tf.Tensor,
): Promise<{ y: Float32Array; grads: Float32Array[]; kernels: string[] }> {
  const xs = bias === undefined ? [x, filter] : [x, filter, bias];
  let y: tf.Tensor | undefined;
  let grads: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    y = tf.tidy(() => conv(x, filter, bias));
    grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(conv(args[0]!, args[1]!, args[2]), c)))(xs);
    return [y, ...grads];
  });
  const out = {
    y: (await y!.data()) as Float32Array,
    grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)),
    kernels: profile.kernels.map((k) => k.name),
  };
  tf.dispose([y!, ...grads]);
  return out;
}

const fusedRelu = (strides: number, pad: 'same' | 'valid') => (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined) =>
  fusedConv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides, pad, activation: 'relu' });
const tfjsRelu = (strides: number, pad: 'same' | 'valid') => (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined) =>
  tf.fused.conv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides, pad, activation: 'relu' });

describe('fusedConv2d: relu(conv + bias) as one kernel in training', () => {
  it('serves its backward kernel on wasm through oneDNN\'s threads', () => {
    const assignment = listKernelAssignments('wasm').find((a) => a.kernel === RELU_BIAS_GRAD_KERNEL);
    expect(assignment?.servedBy).toBe('native');
    expect(tf.getKernel(RELU_BIAS_GRAD_KERNEL, 'cpu')).toBeUndefined();
  });

  it.each(CASES)('gives tfjs\'s values and gradients, with FusedConv2D and one relu/bias gradient kernel (x %j)', async (spec) => {
    const x = normal(spec.x);
    const filter = normal(spec.filter);
    const bias = spec.bias ? normal([spec.filter[3]!]) : undefined;
    const yShape = tf.tidy(() => tfjsRelu(spec.strides, spec.pad)(x, filter, bias).shape);
    const c = normal(yShape);
    const fused = await expectNoLeak(() => valuesAndGradients(fusedRelu(spec.strides, spec.pad), x, filter, bias, c));
    const stock = await valuesAndGradients(tfjsRelu(spec.strides, spec.pad), x, filter, bias, c);
    const cpu = await withCpu(() => valuesAndGradients(tfjsRelu(spec.strides, spec.pad), x, filter, bias, c));
    // oneDNN adds the bias inside the convolution, tfjs's training path in a separate Add: one rounding either way.
    expect(relativeError(stock.y, fused.y)).toBeLessThan(1e-6);
    expect(relativeError(cpu.y, fused.y)).toBeLessThan(1e-5);
    expect(fused.grads).toHaveLength(stock.grads.length);
    fused.grads.forEach((g, i) => {
      expect(relativeError(stock.grads[i]!, g)).toBeLessThan(1e-5);
      expect(relativeError(cpu.grads[i]!, g)).toBeLessThan(1e-5);
    });
    // tfjs's training path: Conv2D, Add (with a bias), Relu forward and ConvkitReluGrad (+ Sum) backward.
    expect(stock.kernels).toEqual(expect.arrayContaining(['Conv2D', 'Relu']));
    expect(fused.kernels).not.toContain('Relu');
    expect(fused.kernels).not.toContain('Conv2D');
    expect(fused.kernels.filter((k) => k === 'FusedConv2D')).toHaveLength(2);
    expect(fused.kernels.filter((k) => k === RELU_BIAS_GRAD_KERNEL)).toHaveLength(1);
    tf.dispose([x, filter, c, ...(bias === undefined ? [] : [bias])]);
  });

  it('runs on a backend without the fused backward kernel (cpu) with the same values as tfjs there', async () => {
    const x = normal([2, 7, 7, 3]);
    const filter = normal([3, 3, 3, 4]);
    const bias = normal([4]);
    const c = normal([2, 7, 7, 4]);
    const [ours, theirs] = await withCpu(async () => [
      await expectNoLeak(() => valuesAndGradients(fusedRelu(1, 'same'), x, filter, bias, c)),
      await valuesAndGradients(tfjsRelu(1, 'same'), x, filter, bias, c),
    ]);
    expect(Array.from(ours!.y)).toEqual(Array.from(theirs!.y));
    ours!.grads.forEach((g, i) => expect(relativeError(theirs!.grads[i]!, g)).toBeLessThan(1e-6));
    expect(ours!.kernels).not.toContain(RELU_BIAS_GRAD_KERNEL);
    tf.dispose([x, filter, bias, c]);
  });

  it('keeps relu\'s NaN and zero rules: NaN inputs give NaN gradients, a zero pre-activation a zero gradient', async () => {
    // One input channel, a 1×1 filter of 1 and no bias: y = relu(x) elementwise, so dx = c · step(x).
    const x = tf.tensor4d([NaN, -1, 0, 2], [1, 2, 2, 1]);
    const filter = tf.tensor4d([1], [1, 1, 1, 1]);
    const c = tf.tensor4d([5, 6, 7, 8], [1, 2, 2, 1]);
    const { y, grads, kernels } = await valuesAndGradients(fusedRelu(1, 'valid'), x, filter, undefined, c);
    expect(Array.from(y)).toEqual([NaN, 0, 0, 2]);
    expect(Array.from(grads[0]!)).toEqual([NaN, 0, 0, 8]);
    // Through the fused kernels (oneDNN's convolution, then ConvkitReluBiasGrad), not tfjs's separate Relu.
    expect(kernels).toEqual(expect.arrayContaining(['FusedConv2D', RELU_BIAS_GRAD_KERNEL]));
    expect(kernels).not.toContain('Relu');
    tf.dispose([x, filter, c]);
  });

  it('has second derivatives equal to tfjs\'s (the backward kernel has its own gradient)', async () => {
    const x = normal([1, 5, 5, 2]);
    const filter = normal([3, 3, 2, 3]);
    const bias = normal([3]);
    const second = (conv: (x: tf.Tensor, f: tf.Tensor, b: tf.Tensor | undefined) => tf.Tensor) => async () => {
      // d/dfilter Σ (d/dx Σ conv(x)²)²: differentiates the backward pass (the relu/bias gradient kernel and the input
      // gradient; tfjs has no gradient of the filter gradient).
      const out = tf.grad((f: tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.square(conv(t, f, bias))))(x).square().sum())(filter);
      const values = (await out.data()) as Float32Array;
      out.dispose();
      return values;
    };
    const ours = await expectNoLeak(second(fusedRelu(1, 'same')));
    const theirs = await withCpu(second(tfjsRelu(1, 'same')));
    expect(relativeError(theirs, ours)).toBeLessThan(1e-4);
    tf.dispose([x, filter, bias]);
  });

  it('keeps tfjs\'s unfused path where the fused relu would turn NaN into 0 (wasm without @convkit/native)', async () => {
    const x = tf.tensor4d([NaN, -1, 0, 2], [1, 2, 2, 1]);
    const filter = tf.tensor4d([1], [1, 1, 1, 1]);
    const c = tf.tensor4d([5, 6, 7, 8], [1, 2, 2, 1]);
    expect(kernelServedBy('wasm', 'FusedConv2D')).toBe('native');
    const [ours, theirs] = await withKernelProviders({ disable: ['native'] }, async () => {
      expect(kernelServedBy('wasm', 'FusedConv2D')).not.toBe('native');
      // tfjs's own wasm FusedConv2D (XNNPACK) clamps: relu(NaN) = 0 there. The op must not train through it.
      const clamped = tf.tidy(() => tf.engine().runKernel('FusedConv2D', { x, filter }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1, activation: 'relu' }) as tf.Tensor);
      expect(Array.from(await clamped.data())).toEqual([0, 0, 0, 2]);
      clamped.dispose();
      return [await valuesAndGradients(fusedRelu(1, 'valid'), x, filter, undefined, c), await valuesAndGradients(tfjsRelu(1, 'valid'), x, filter, undefined, c)];
    });
    expect(ours!.kernels).toEqual(theirs!.kernels);
    expect(ours!.kernels).toContain('Relu');
    expect(ours!.kernels).not.toContain(RELU_BIAS_GRAD_KERNEL);
    expect(Array.from(ours!.grads[0]!)).toEqual(Array.from(theirs!.grads[0]!));
    expect(Array.from(ours!.grads[1]!)).toEqual(Array.from(theirs!.grads[1]!));
    tf.dispose([x, filter, c]);
  });

  it('hands the calls it does not fuse to tf.fused.conv2d unchanged', async () => {
    const x = normal([1, 6, 6, 2]);
    const filter = normal([3, 3, 2, 2]);
    for (const extra of [{ activation: 'sigmoid' as const }, { activation: 'relu' as const, dilations: 2 }, { activation: 'linear' as const }]) {
      const args = { x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, strides: 1, pad: 'same' as const, ...extra };
      const ours = tf.tidy(() => fusedConv2d(args));
      const theirs = tf.tidy(() => tf.fused.conv2d(args));
      expect(Array.from(await ours.data())).toEqual(Array.from(await theirs.data()));
      tf.dispose([ours, theirs]);
    }
    tf.dispose([x, filter]);
  });

  it('names the argument, the value and what was expected when the channels do not match', () => {
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const filter = tf.zeros([3, 3, 2, 4]) as tf.Tensor4D;
    expect(() => fusedConv2d({ x, filter, strides: 1, pad: 'same', activation: 'relu' })).toThrow(
      "fusedConv2d: x's channels (x.shape[3] = 3) must equal filter's input channels (filter.shape[2] = 2)",
    );
    tf.dispose([x, filter]);
  });
});

describe('conv2dLayer: tf.layers.conv2d on the fused path', () => {
  function twin(args: Parameters<typeof tf.layers.conv2d>[0]): [tf.layers.Layer, tf.layers.Layer] {
    const ours = conv2dLayer(args);
    const theirs = tf.layers.conv2d(args);
    const input = tf.input({ shape: [10, 10, 3] });
    ours.apply(input);
    theirs.apply(input);
    theirs.setWeights(ours.getWeights());
    return [ours, theirs];
  }

  it('trains as tfjs\'s Conv2D with the same weights, and serialises as a plain Conv2D', async () => {
    const [ours, theirs] = twin({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', biasInitializer: 'randomNormal' });
    expect(ours.getClassName()).toBe('Conv2D');
    expect(ours.getConfig()).toEqual({ ...theirs.getConfig(), name: ours.name });
    const x = normal([4, 10, 10, 3]);
    const c = normal([4, 10, 10, 6]);
    const run = (layer: tf.layers.Layer) => async () => {
      const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      let kernels: string[] = [];
      let grads: tf.Tensor[] = [];
      const profile = await tf.profile(() => {
        const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, c)) as tf.Scalar, weights);
        grads = weights.map((w) => g[w.name]!);
        return [value, ...grads];
      });
      kernels = profile.kernels.map((k) => k.name);
      const values = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
      tf.dispose(grads);
      tf.dispose(profile.result as tf.Tensor[]);
      return { values, kernels };
    };
    const fused = await expectNoLeak(run(ours));
    const stock = await run(theirs)();
    fused.values.forEach((g, i) => expect(relativeError(stock.values[i]!, g)).toBeLessThan(1e-5));
    expect(fused.kernels).toContain(RELU_BIAS_GRAD_KERNEL);
    expect(fused.kernels).not.toContain('Relu');
    expect(stock.kernels).toContain('Relu');
    const model = tf.sequential({ layers: [conv2dLayer({ inputShape: [10, 10, 3], filters: 2, kernelSize: 3, activation: 'relu' })] });
    const restored = await tf.models.modelFromJSON(model.toJSON(null, false) as unknown as tf.io.ModelJSON);
    expect(restored.layers[0]!.getClassName()).toBe('Conv2D');
    tf.dispose([x, c]);
    [ours, theirs, model, restored].forEach((m) => m.dispose());
  });

  it('keeps tfjs\'s own path for other activations', async () => {
    const [ours, theirs] = twin({ filters: 4, kernelSize: 3, activation: 'tanh' });
    const x = normal([2, 10, 10, 3]);
    const a = tf.tidy(() => ours.apply(x) as tf.Tensor);
    const b = tf.tidy(() => theirs.apply(x) as tf.Tensor);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b, x]);
    [ours, theirs].forEach((m) => m.dispose());
  });
});

async function withCpu<T>(fn: () => Promise<T>): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return await fn();
  } finally {
    await tf.setBackend('wasm');
  }
}
