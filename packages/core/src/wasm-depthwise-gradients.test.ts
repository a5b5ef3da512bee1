import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { expectNoLeak, relativeError } from './testing.js';
import { createRng } from './rng.js';
import type { Rng } from './rng.js';
import { normals, randomConvCase, size, type CaseData, type ConvCase, type Shape4, expectWasmTrainingMatchesCpu, centralDifferences, expectWasmGradientsMatchCpu, type TrainingCase } from './conv-cases.test-helpers.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

/** A depthwise case: the filter is [KH, KW, C, multiplier]. */
type DepthwiseCase = ConvCase;

function info(c: DepthwiseCase): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.strides, c.dilations, c.pad, undefined, true);
}

function makeData(rng: Rng, c: DepthwiseCase): CaseData {
  return { x: normals(rng, size(c.xShape)), filter: normals(rng, size(c.filterShape)), dy: normals(rng, size(info(c).outShape)) };
}

/** tfjs's own gradients of sum(depthwiseConv2d(x, w) · dy) on the active backend. */
function tfjsGradients(c: DepthwiseCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, c.xShape);
    const filter = tf.tensor4d(data.filter, c.filterShape);
    const dy = tf.tensor4d(data.dy, info(c).outShape as Shape4);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same').mul(dy).sum(),
    )([x, filter]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

/** The two backprop kernels called directly, with the case's dilations (tfjs's gradient refuses dilation > 1). */
function kernelGradients(c: DepthwiseCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, c.xShape);
    const filter = tf.tensor4d(data.filter, c.filterShape);
    const dy = tf.tensor4d(data.dy, info(c).outShape as Shape4);
    const common = { strides: c.strides, pad: c.pad, dilations: c.dilations };
    const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...common, inputShape: c.xShape }) as tf.Tensor;
    const dw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: c.filterShape }) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/**
 * Reference gradients on cpu for any dilation: a dilated depthwise conv is a plain one whose filter has zeros
 * inserted, so dx is that conv's dx and dW is its dW sampled every d taps.
 */
function cpuReference(c: DepthwiseCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  const [kh, kw, ch, mult] = c.filterShape;
  const [dh, dw] = c.dilations;
  const bigShape: Shape4 = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ch, mult];
  const at = (shape: Shape4, i: number, j: number, k: number, l: number): number => ((i * shape[1] + j) * shape[2] + k) * shape[3] + l;
  const big = new Float32Array(size(bigShape));
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < ch; k++)
        for (let l = 0; l < mult; l++) big[at(bigShape, i * dh, j * dw, k, l)] = data.filter[at(c.filterShape, i, j, k, l)] as number;
  const grads = tfjsGradients({ ...c, filterShape: bigShape, dilations: [1, 1] }, { ...data, filter: big });
  const sampled = new Float32Array(size(c.filterShape));
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < ch; k++)
        for (let l = 0; l < mult; l++) sampled[at(c.filterShape, i, j, k, l)] = grads.dw[at(bigShape, i * dh, j * dw, k, l)] as number;
  return { dx: grads.dx, dw: sampled };
}

/** Float64 direct depthwise convolution: y[n,oh,ow,c·M+q] = Σ x[n, oh·sh + kh·dh − top, ow·sw + kw·dw − left, c] · w[kh,kw,c,q]. */
function depthwise64(x: ArrayLike<number>, w: ArrayLike<number>, c: DepthwiseCase): Float64Array {
  const conv = info(c);
  const [n, h, wd, ch] = c.xShape;
  const [kh, kw, , mult] = c.filterShape;
  const { outHeight: oh, outWidth: ow } = conv;
  const y = new Float64Array(n * oh * ow * ch * mult);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let p = 0; p < kh; p++)
          for (let q = 0; q < kw; q++) {
            const row = i * conv.strideHeight + p * conv.dilationHeight - conv.padInfo.top;
            const col = j * conv.strideWidth + q * conv.dilationWidth - conv.padInfo.left;
            if (row < 0 || row >= h || col < 0 || col >= wd) continue;
            for (let k = 0; k < ch; k++) {
              const xv = x[((b * h + row) * wd + col) * ch + k] as number;
              for (let m = 0; m < mult; m++) {
                y[((b * oh + i) * ow + j) * ch * mult + k * mult + m]! += xv * (w[((p * kw + q) * ch + k) * mult + m] as number);
              }
            }
          }
  return y;
}

describe('depthwise convolution gradients on wasm', () => {
  const rng = createRng(20_251_123);
  const cases = Array.from({ length: 40 }, (_, index) => randomConvCase(rng, index, 6, 4)).map((c) => ({ c, data: makeData(rng, c) }));

  it('registers both kernels, which stock tfjs-backend-wasm 4.22 lacks', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')).toBeDefined();
  });

  it('match tfjs cpu gradients of depthwiseConv2d on random shapes, multipliers, strides and paddings', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const undilated = cases.filter(({ c }) => c.dilations[0] === 1);
    expect(await expectWasmGradientsMatchCpu(undilated, tfjsGradients)).toBe(32);
  });

  it('honour a dilations attribute (dilation 2) when the kernels are called directly', async () => {
    const dilated = cases.filter(({ c }) => c.dilations[0] === 2);
    expect(dilated.length).toBe(8);
    for (const { c, data } of dilated) {
      await tf.setBackend('cpu');
      const reference = cpuReference(c, data);
      await tf.setBackend('wasm');
      registerWasmGradientKernels();
      const actual = await expectNoLeak(() => kernelGradients(c, data));
      const label = JSON.stringify(c);
      expect(relativeError(reference.dx, actual.dx), `dx ${label}`).toBeLessThan(1e-5);
      expect(relativeError(reference.dw, actual.dw), `dW ${label}`).toBeLessThan(1e-5);
    }
  });

  it('handle pads larger than the filter reach (dy is cropped) and uneven strides', async () => {
    const special: DepthwiseCase[] = [
      { xShape: [2, 6, 7, 3], filterShape: [2, 2, 3, 2], strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [3, 0], [0, 4], [0, 0]] },
      { xShape: [1, 9, 8, 2], filterShape: [3, 1, 2, 3], strides: [3, 2], dilations: [1, 1], pad: [[0, 0], [4, 1], [2, 3], [0, 0]] },
      { xShape: [2, 10, 10, 4], filterShape: [3, 3, 4, 1], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ];
    const local = createRng(5);
    for (const c of special) {
      const data = makeData(local, c);
      await tf.setBackend('cpu');
      const reference = tfjsGradients(c, data);
      await tf.setBackend('wasm');
      registerWasmGradientKernels();
      // Intermediates are freed on the backend too (tensor counts alone would not see a leaked heap buffer).
      const dataIds = (): number => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
      const before = dataIds();
      const actual = await expectNoLeak(() => kernelGradients(c, data));
      expect(dataIds()).toBe(before);
      const label = JSON.stringify(c);
      expect(relativeError(reference.dx, actual.dx), `dx ${label}`).toBeLessThan(1e-5);
      expect(relativeError(reference.dw, actual.dw), `dW ${label}`).toBeLessThan(1e-5);
    }
  });

  it('match central finite differences (float64) of sum(depthwiseConv2d(x, w) · dy), stride 2 and dilation 2', async () => {
    const tiny: DepthwiseCase[] = [
      { xShape: [2, 5, 6, 2], filterShape: [3, 3, 2, 2], strides: [2, 2], dilations: [1, 1], pad: 'same' },
      { xShape: [1, 7, 6, 2], filterShape: [3, 2, 2, 2], strides: [1, 1], dilations: [2, 2], pad: 'valid' },
    ];
    const local = createRng(9);
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    for (const c of tiny) {
      const data = makeData(local, c);
      const actual = await expectNoLeak(() => kernelGradients(c, data));
      const loss = (x: ArrayLike<number>, w: ArrayLike<number>): number =>
        depthwise64(x, w, c).reduce((sum, value, i) => sum + value * (data.dy[i] as number), 0);
      expect(relativeError(centralDifferences(data.x, (x) => loss(x, data.filter)), actual.dx)).toBeLessThan(1e-5);
      expect(relativeError(centralDifferences(data.filter, (w) => loss(data.x, w)), actual.dw)).toBeLessThan(1e-5);
    }
  });

  it('the float64 reference agrees with the cpu forward depthwiseConv2d', async () => {
    const c: DepthwiseCase = { xShape: [2, 5, 6, 2], filterShape: [3, 3, 2, 2], strides: [2, 2], dilations: [1, 1], pad: 'same' };
    const data = makeData(createRng(9), c);
    await tf.setBackend('cpu');
    const forward = await expectNoLeak(() =>
      tf.tidy(() => tf.depthwiseConv2d(tf.tensor4d(data.x, c.xShape), tf.tensor4d(data.filter, c.filterShape), 2, 'same').dataSync()),
    );
    expect(relativeError(depthwise64(data.x, data.filter, c), forward)).toBeLessThan(1e-6);
  });

  it('trains a separable conv layer on wasm with the same losses and weights as on cpu', async () => {
    const init = createRng(13);
    const inputs = normals(init, 4 * 8 * 8 * 3);
    const labels = new Float32Array(8).map((_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0));
    const training: TrainingCase = {
      layers: () => [
        tf.layers.depthwiseConv2d({ inputShape: [8, 8, 3], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
      initialWeights: (shapes) => shapes.map((shape) => normals(createRng(17), size(shape)).map((v) => v * 0.3)),
      x: inputs,
      xShape: [4, 8, 8, 3],
      y: labels,
      yShape: [4, 2],
      learningRate: 0.2,
    };
    await expectWasmTrainingMatchesCpu(training);
  });

  it('reject NCHW with a clear error', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    await expectNoLeak(() => {
      const x = tf.zeros([1, 2, 4, 4]);
      const dy = tf.zeros([1, 2, 4, 4]);
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [1, 1, 2, 1] };
      expect(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs)).toThrow(
        "DepthwiseConv2dNativeBackpropFilter on wasm supports dataFormat 'NHWC' only (received 'NCHW')",
      );
      tf.dispose([x, dy]);
    });
  });
});
