import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadNative } from '@convkit/native';
import './wasm-backend.js';
import { initBackend } from './backend.js';
import { useWasmWithNative } from './native-wasm.test-helpers.js';
import { normals, randomConvCase, size, type ConvCase, type Shape4 } from './conv-cases.test-helpers.js';
import { createRng } from './rng.js';
import { expectNoLeak, relativeError } from './testing.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import { registerWasmOptimizerKernels } from './wasm-optimizer-kernels.js';
import { listKernelAssignments, listKernelProviders, summariseKernels, withKernelProviders } from './kernel-registry.js';
import { NATIVE_KERNEL_NAMES, loadNativeJpegDecoder, loadNativeKernels, nativeKernelsRegistered, registerNativeKernels, unregisterNativeKernels } from './wasm-native.js';

// Every native kernel is checked against the cpu backend's on the same random inputs (tfjs's pure-JS reference).
const rng = createRng(2024);

useWasmWithNative();

async function onBoth<T extends ArrayLike<number>[]>(fn: () => T | Promise<T>): Promise<{ cpu: T; wasm: T }> {
  await tf.setBackend('cpu');
  const cpu = await fn();
  await tf.setBackend('wasm');
  const wasm = await expectNoLeak(fn);
  return { cpu, wasm };
}

/** The values of tensors `make` builds (inside a tidy), read with `await data()`, the tensors then disposed. */
async function read(make: () => tf.Tensor[]): Promise<Float32Array[]> {
  const tensors = tf.tidy(make);
  const values = await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(tensors);
  return values;
}

function outShape(c: ConvCase): Shape4 {
  return tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.strides, c.dilations, c.pad, undefined, false, 'channelsLast')
    .outShape as Shape4;
}

const CASES = Array.from({ length: 16 }, (_, i) => randomConvCase(rng, i, 6, 6));

describe('registerNativeKernels: oneDNN kernels on wasm', () => {
  it('replaces the kernels it names, once, and puts the replaced ones back', () => {
    expect(nativeKernelsRegistered()).toBe(true);
    const native = NATIVE_KERNEL_NAMES.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    unregisterNativeKernels();
    expect(nativeKernelsRegistered()).toBe(false);
    NATIVE_KERNEL_NAMES.forEach((name, i) => {
      const restored = tf.getKernel(name, 'wasm')?.kernelFunc;
      expect(restored, name).toBeDefined();
      expect(restored, name).not.toBe(native[i]);
    });
    registerNativeKernels(loadNative(), 2);
    NATIVE_KERNEL_NAMES.forEach((name, i) => expect(tf.getKernel(name, 'wasm')?.kernelFunc, name).toBe(native[i]));
    const before = tf.getKernel('Conv2D', 'wasm')?.kernelFunc;
    registerNativeKernels(loadNative(), 2);
    expect(tf.getKernel('Conv2D', 'wasm')?.kernelFunc).toBe(before);
    expect(() => registerNativeKernels(loadNative(), 0)).toThrow('threads must be a positive integer (received 0)');
  });

  it("stays on top when convkit's wasm kernels are registered again, falling back to them and not to itself", async () => {
    const native = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    registerWasmGradientKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(native);
    // [2, 1] by [1, 3] batches broadcast both ways: oneDNN's kernel hands it to convkit's, which hands it to the stock one.
    const a = normals(rng, 2 * 3 * 4);
    const b = normals(rng, 3 * 4 * 2);
    const { cpu, wasm } = await onBoth(() => tf.tidy(() => [tf.matMul(tf.tensor(a, [2, 1, 3, 4]), tf.tensor(b, [1, 3, 4, 2])).dataSync()]));
    expect(relativeError(cpu[0], wasm[0])).toBeLessThan(1e-5);
  });

  it("is listed in the kernel registry on top of convkit's wasm kernels, which serve the rest of their stack", () => {
    const served = new Map(listKernelAssignments('wasm').map((a) => [a.kernel, [a.servedBy, ...a.fallbacks]]));
    expect(served.get('Conv2D')).toEqual(['native', 'stock']);
    expect(served.get('Conv2DBackpropFilter')).toEqual(['native', 'wasm-gradients']); // tfjs-backend-wasm has none
    expect(served.get('Conv2DBackpropInput')).toEqual(['native', 'wasm-gradients', 'stock']);
    expect(served.get('BatchMatMul')).toEqual(['native', 'wasm-matmul', 'stock']);
    expect(served.get('AvgPoolGrad')).toEqual(['wasm-gradients', 'stock']);
    expect(served.get('DepthwiseConv2dNativeBackpropFilter')).toEqual(['wasm-gradients']);
    expect(served.get('ConvkitReluGrad')).toEqual(['native', 'wasm-gradients']); // not a tfjs kernel
    expect(served.get('ConvkitReluBiasGrad')).toEqual(['native']); // nor this one
    expect(served.get('ConvkitMaxPoolReluGrad')).toEqual(['native']); // nor this one
    expect(served.get('ConvkitConv2DReluPool')).toEqual(['native']); // nor these
    expect(served.get('ConvkitConv2DReluPoolGrad')).toEqual(['native']);
    for (const blocked of ['ConvkitBlockedConv2D', 'ConvkitBlockedReluPool', 'ConvkitBlockedReluPoolGrad', 'ConvkitBlockedConv2DBackpropInput', 'ConvkitBlockedConv2DBackpropFilter']) {
      expect(served.get(blocked), blocked).toEqual(['native']);
    }
    expect(served.get('Cast')).toEqual(['wasm-identity', 'stock']);
    expect(served.get('Add')).toEqual(['native', 'stock']);
    expect(served.get('Relu')).toEqual(['native', 'stock']);
    expect(served.get('MaxPool')).toEqual(['native', 'stock']);
    expect(served.get('Transform')).toEqual(['native-image', 'stock']);
    expect(served.get('ConvkitSoftmaxCrossEntropy')).toEqual(['wasm-gradients']);
    expect(summariseKernels('wasm')).toBe('oneDNN 20, convkit-wasm 10, convkit-native 3, stock rest');
    expect(listKernelProviders('wasm').map((p) => [p.name, p.status, p.serving])).toEqual([
      ['native', 'active', 20],
      ['native-fused-optimizer', 'active', 2],
      ['native-image', 'active', 1],
      ['wasm-matmul', 'active', 0],
      ['wasm-fused-optimizer', 'active', 3],
      ['wasm-gradients', 'active', 5],
      ['wasm-identity', 'active', 2],
    ]);
  });

  it("runs convkit's kernels under withKernelProviders({ disable: ['native'] }), still matching cpu", async () => {
    const c = CASES.find((candidate) => candidate.dilations[0] === 1) as ConvCase;
    const x = normals(rng, size(c.xShape));
    const dy = normals(rng, size(outShape(c)));
    const grad = async (): Promise<Float32Array[]> => {
      const dw = tf.tidy(() => {
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1, filterShape: c.filterShape };
        return tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, c.xShape), dy: tf.tensor4d(dy, outShape(c)) }, attrs) as tf.Tensor;
      });
      const values = (await dw.data()) as Float32Array;
      dw.dispose();
      return [values];
    };
    const native = tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc;
    const convkit = await withKernelProviders({ disable: ['native'] }, async () => {
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc.name).toBe('conv2dBackpropFilter');
      return (await onBoth(grad)).wasm;
    });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(native);
    const { cpu, wasm } = await onBoth(grad);
    expect(relativeError(cpu[0], convkit[0])).toBeLessThan(1e-5);
    expect(relativeError(cpu[0], wasm[0])).toBeLessThan(1e-5);
  });

  it.each(CASES.map((c, i) => [i, c] as const))('case %i: conv2d, fused conv2d and both gradients match cpu', async (_i, c) => {
    const x = normals(rng, size(c.xShape));
    const filter = normals(rng, size(c.filterShape));
    const out = outShape(c);
    const dy = normals(rng, size(out));
    const bias = normals(rng, c.filterShape[3]);
    const dilated = c.dilations[0] > 1;
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const xs = tf.tensor4d(x, c.xShape);
        const fs = tf.tensor4d(filter, c.filterShape);
        const dys = tf.tensor4d(dy, out);
        const y = tf.conv2d(xs, fs, c.strides, c.pad as 'same', 'NHWC', c.dilations);
        const fused = tf.fused.conv2d({ x: xs, filter: fs, strides: c.strides, pad: c.pad as 'same', dilations: c.dilations, bias: tf.tensor1d(bias), activation: 'relu' });
        if (dilated) return [y.dataSync(), fused.dataSync()]; // tfjs refuses gradients of dilated convolutions
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same').mul(dys).sum())([xs, fs]);
        return [y.dataSync(), fused.dataSync(), dx!.dataSync(), dw!.dataSync()];
      }),
    );
    cpu.forEach((reference, i) => expect(relativeError(reference, wasm[i] as ArrayLike<number>), `output ${i}`).toBeLessThan(1e-5));
  });

  it('trains through a fused conv with bias and relu: gradients of x, filter and bias match cpu', async () => {
    const c = CASES[1] as ConvCase;
    const x = normals(rng, size(c.xShape));
    const filter = normals(rng, size(c.filterShape));
    const bias = normals(rng, c.filterShape[3]);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, z: tf.Tensor) =>
          tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: c.strides, pad: c.pad as 'same', bias: z, activation: 'relu' }).square().sum(),
        )([tf.tensor4d(x, c.xShape), tf.tensor4d(filter, c.filterShape), tf.tensor1d(bias)]);
        return grads.map((g) => g.dataSync());
      }),
    );
    cpu.forEach((reference, i) => expect(relativeError(reference, wasm[i] as ArrayLike<number>), `gradient ${i}`).toBeLessThan(1e-5));
  });

  it('runs every fused activation oneDNN takes, and PReLU through the kernel it replaced', async () => {
    const c = CASES[0] as ConvCase;
    const x = normals(rng, size(c.xShape));
    const filter = normals(rng, size(c.filterShape));
    const alphas = normals(rng, c.filterShape[3]);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() =>
        (['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid', 'prelu'] as const).map((activation) =>
          tf.fused
            .conv2d({
              x: tf.tensor4d(x, c.xShape).mul<tf.Tensor4D>(3),
              filter: tf.tensor4d(filter, c.filterShape),
              strides: c.strides,
              pad: c.pad as 'same',
              activation,
              leakyreluAlpha: 0.1,
              ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor1d(alphas) } : {}),
            })
            .dataSync(),
        ),
      ),
    );
    cpu.forEach((reference, i) => expect(relativeError(reference, wasm[i] as ArrayLike<number>), `activation ${i}`).toBeLessThan(1e-5));
  });

  it.each([
    { a: [5, 3], b: [5, 4], ta: true, tb: false },
    { a: [3, 5], b: [4, 5], ta: false, tb: true },
    { a: [5, 3], b: [4, 5], ta: true, tb: true },
    { a: [64, 97], b: [97, 10], ta: false, tb: false },
    { a: [2, 3, 6, 5], b: [6, 4], ta: true, tb: false },
    { a: [2, 6, 3], b: [2, 6, 4], ta: true, tb: false },
    { a: [1, 3, 6], b: [4, 6, 5], ta: false, tb: false },
    { a: [2, 1, 3, 4], b: [1, 3, 4, 2], ta: false, tb: false },
  ])('matMul %o matches cpu (broadcasts a single matrix; other broadcasts fall back)', async ({ a, b, ta, tb }) => {
    const av = normals(rng, size(a));
    const bv = normals(rng, size(b));
    const { cpu, wasm } = await onBoth(() => tf.tidy(() => [tf.matMul(tf.tensor(av, a), tf.tensor(bv, b), ta, tb).dataSync()]));
    expect(relativeError(cpu[0], wasm[0])).toBeLessThan(1e-5);
  });

  it.each([
    { shape: [4, 5, 6, 3], axis: [0, 1, 2], keepDims: false },
    { shape: [4, 5, 6, 3], axis: [1, 0], keepDims: true },
    { shape: [7, 9], axis: 0, keepDims: false },
    { shape: [4, 5, 6], axis: [-1], keepDims: false },
    { shape: [4, 5, 6], axis: [0, 2], keepDims: false },
    { shape: [4, 5, 6], axis: [0, 1, 2], keepDims: false },
  ])('sum over %o matches cpu (leading axes natively, the rest through the stock kernel)', async ({ shape, axis, keepDims }) => {
    const values = normals(rng, size(shape));
    const { cpu, wasm } = await onBoth(() => tf.tidy(() => [tf.sum(tf.tensor(values, shape), axis, keepDims).dataSync()]));
    expect(relativeError(cpu[0], wasm[0])).toBeLessThan(1e-5);
    await tf.setBackend('cpu');
    const expectedShape = tf.tidy(() => tf.sum(tf.zeros(shape), axis, keepDims).shape);
    await tf.setBackend('wasm');
    expect(tf.tidy(() => tf.sum(tf.tensor(values, shape), axis, keepDims).shape)).toEqual(expectedShape);
  });

  it.each([
    { shape: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' as const },
    { shape: [2, 7, 9, 4], size: 3, stride: 2, pad: 'same' as const },
    { shape: [1, 6, 6, 2], size: 3, stride: 1, pad: 'same' as const },
    { shape: [3, 5, 5, 1], size: 2, stride: 1, pad: 'valid' as const },
    { shape: [2, 7, 9, 20], size: 2, stride: 2, pad: 'valid' as const },
  ])('max-pool gradient of %o matches cpu, ties included (first maximum wins)', async ({ shape, size: window, stride, pad }) => {
    // Values on a coarse grid so that windows hold equal maxima.
    const values = Float32Array.from(normals(rng, size(shape)), (v) => Math.round(v * 2) / 2);
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.tensor4d(values, shape as Shape4);
        const pool = (a: tf.Tensor): tf.Tensor4D => tf.maxPool(a as tf.Tensor4D, window, stride, pad);
        const weights = tf.range(1, 1 + size(pool(x).shape)).reshape(pool(x).shape); // a distinct dy per window
        const dx = tf.grad((a: tf.Tensor) => pool(a).mul(weights).sum())(x);
        return [dx.dataSync()];
      }),
    );
    expect(relativeError(cpu[0], wasm[0])).toBeLessThan(1e-6);
  });

  it('max-pool gradient\'s 2×2 path: a window of NaN or -∞ passes nothing, NaN never wins, ties go to the first (as cpu)', async () => {
    // One 2×2 window of 4 channels (NHWC, position-major): channel 0 all NaN; 1 all -∞; 2 NaN, 3, 3, 0 (NaN first,
    // then a tie); 3 1, 5, 5, 2 (a tie between top-right and bottom-left).
    const n = NaN;
    const i = -Infinity;
    const x = [n, i, n, 1, n, i, 3, 5, n, i, 3, 5, n, i, 0, 2];
    const { cpu, wasm } = await onBoth(() =>
      read(() => {
        const input = tf.tensor4d(x, [1, 2, 2, 4]);
        const output = tf.tensor4d([0, 0, 0, 0], [1, 1, 1, 4]);
        const dy = tf.tensor4d([10, 20, 30, 40], [1, 1, 1, 4]);
        return [tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor];
      }),
    );
    expect(Array.from(wasm[0])).toEqual(Array.from(cpu[0]));
    // Channels 0 and 1 pass nothing; 2 and 3 pass dy to their top-right element (the first strictly greatest).
    expect(Array.from(wasm[0])).toEqual([0, 0, 0, 0, 0, 0, 30, 40, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it.each([
    { a: [4, 5, 6, 7], b: [7], native: true },
    { a: [7], b: [4, 5, 6, 7], native: true },
    { a: [64, 30, 40], b: [1, 1, 40], native: true },
    { a: [3, 70_000], b: [3, 70_000], native: true },
    { a: [2, 1, 3], b: [1, 4, 3], native: false },
    { a: [5, 3], b: [5, 1], native: false },
  ])('Add of %o and Relu equal the stock wasm kernels bit for bit (NaN, ±0, ±∞; other broadcasts fall back)', async ({ a, b, native: served }) => {
    const specials = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1.5];
    const fill = (n: number, offset: number): Float32Array =>
      Float32Array.from(normals(rng, n), (v, i) => (i % 5 === 0 ? (specials[(i / 5 + offset) % specials.length] as number) : v));
    const av = fill(size(a), 0);
    const bv = fill(size(b), 3);
    const bits = (values: Float32Array): string[] => Array.from(values, (v) => (Object.is(v, -0) ? '-0' : String(v)));
    const run = async (): Promise<string[][]> => {
      const [x, y] = [tf.tensor(av, a), tf.tensor(bv, b)];
      const sum = tf.add(x, y);
      const relu = tf.relu(x);
      const result = [bits((await sum.data()) as Float32Array), bits((await relu.data()) as Float32Array), sum.shape.map(String)];
      tf.dispose([x, y, sum, relu]);
      return result;
    };
    // The addon's addRows, counted, so that a kernel that always fell back would fail here.
    const addon = loadNative();
    let calls = 0;
    registerNativeKernels({ ...addon, addRows: (...args) => { calls++; addon.addRows!(...args); } }, 2);
    let native: string[][];
    try {
      native = await expectNoLeak(run);
    } finally {
      registerNativeKernels(addon, 2);
    }
    expect(calls).toBe(served ? 1 : 0);
    const stock = await withKernelProviders({ only: [] }, run);
    expect(native).toEqual(stock);
  });

  it('adds int32 tensors through the stock kernel', async () => {
    await tf.setBackend('wasm');
    const [sum] = await read(() => [tf.add(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor1d([10, 20], 'int32'))]);
    expect(Array.from(sum!)).toEqual([11, 22, 13, 24]);
  });

  it('max pooling matches cpu on random shapes, windows, strides and paddings, ties, NaN and -∞ included', async () => {
    const specials = [NaN, -Infinity, 0, -0, 2];
    for (let index = 0; index < 24; index++) {
      const window: [number, number] = [1 + (index % 3), 1 + ((index >> 1) % 3)];
      const stride: [number, number] = [1 + (index % 2), 1 + ((index >> 2) % 3)];
      const pad = (['valid', 'same'] as const)[index % 2] as 'valid' | 'same';
      const shape: Shape4 = [1 + (index % 3), window[0] + 1 + (index % 5), window[1] + 2 + (index % 4), 1 + (index % 6) * 3];
      const values = Float32Array.from(normals(rng, size(shape)), (v, i) => (i % 7 === 0 ? (specials[i % specials.length] as number) : Math.round(v * 2) / 2));
      const { cpu, wasm } = await onBoth(() => read(() => [tf.maxPool(tf.tensor4d(values, shape), window, stride, pad)]));
      const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));
      expect(bits(wasm[0]), JSON.stringify({ shape, window, stride, pad })).toEqual(bits(cpu[0]));
    }
    // The 2×2 stride-2 tiling (its own fast path): even and odd sizes (a last row and column in no window), channel
    // counts below and above a SIMD block, and whole blocks of 16.
    for (const shape of [[2, 8, 8, 3], [1, 7, 5, 20], [3, 4, 6, 17], [2, 6, 8, 32], [1, 7, 9, 48]] as Shape4[]) {
      const values = Float32Array.from(normals(rng, size(shape)), (v, i) => (i % 5 === 0 ? (specials[i % specials.length] as number) : Math.round(v * 2) / 2));
      const { cpu, wasm } = await onBoth(() => read(() => [tf.maxPool(tf.tensor4d(values, shape), 2, 2, 'valid')]));
      const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));
      expect(bits(wasm[0]), JSON.stringify(shape)).toEqual(bits(cpu[0]));
    }
    // The stock wasm kernel's answer for a window [NaN, 1, 2, 3] was -∞; convkit's (cpu's) is 3.
    const [pooled] = await read(() => [tf.maxPool(tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]), 2, 2, 'valid')]);
    expect(Array.from(pooled!)).toEqual([3]);
  });

  it('sums int32 tensors through the stock kernel', async () => {
    await tf.setBackend('wasm');
    const total = tf.tidy(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0).arraySync());
    expect(total).toEqual([4, 6]);
  });
});

describe('initBackend: native kernels on wasm', () => {
  it('reports oneDNN when the addon is built, and leaves it off when asked', async () => {
    unregisterNativeKernels();
    const off = await initBackend({ backend: 'wasm', native: false, log: false });
    expect(off.native).toEqual({ used: false, detail: 'native kernels off' });
    expect(nativeKernelsRegistered()).toBe(false);
    expect(off.summary).toContain('convkit wasm kernels: native kernels off');
    const on = await initBackend({ backend: 'wasm', log: false });
    expect(on.native?.used).toBe(true);
    expect(on.native?.detail).toMatch(/^oneDNN \d+\.\d+\.\d+ \(\w+\)$/);
    expect(on.summary).toContain(`${on.native?.detail} kernels`);
    expect(nativeKernelsRegistered()).toBe(true);
    await expect(initBackend({ backend: 'wasm', log: false, env: { CONVKIT_NATIVE: 'yes' } })).rejects.toThrow(
      "CONVKIT_NATIVE must be 0 or 1 (received 'yes')",
    );
  });
});

describe('loadNativeKernels and loadNativeJpegDecoder', () => {
  it('give the addon once, with its oneDNN description, and its JPEG decoder (this repository builds it with libjpeg-turbo)', async () => {
    const loaded = await loadNativeKernels();
    expect('kernels' in loaded ? loaded.detail : loaded.reason).toMatch(/^oneDNN \d+\.\d+\.\d+ \(/);
    const jpeg = await loadNativeJpegDecoder();
    expect('kernels' in jpeg ? typeof jpeg.kernels.decodeJpeg : jpeg.reason).toBe('function');
    expect(await loadNativeJpegDecoder()).toBe(jpeg);
    if ('kernels' in loaded && 'kernels' in jpeg) expect(jpeg.kernels).toBe(loaded.kernels);
  });
});
