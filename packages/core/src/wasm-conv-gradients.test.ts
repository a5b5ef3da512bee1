import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { expectNoLeak, relativeError } from './testing.js';
import { createRng } from './rng.js';
import { normals, randomConvCase, size, type CaseData, type ConvCase, type Shape4, expectWasmTrainingMatchesCpu, centralDifferences, expectWasmGradientsMatchCpu, type TrainingCase } from './conv-cases.test-helpers.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

function outputShape(c: ConvCase): Shape4 {
  return tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.strides, c.dilations, c.pad, undefined, false, 'channelsLast')
    .outShape as Shape4;
}

/** tfjs's own gradients of sum(conv2d(x, w) · dy) on the active backend. */
function tfjsGradients(c: ConvCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, c.xShape);
    const filter = tf.tensor4d(data.filter, c.filterShape);
    const dy = tf.tensor4d(data.dy, outputShape(c));
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same').mul(dy).sum(),
    )([x, filter]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

/** The backprop kernels called directly, with a `dilations` attribute tfjs's gradient never sends. */
function kernelGradients(c: ConvCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.x, c.xShape);
    const filter = tf.tensor4d(data.filter, c.filterShape);
    const dy = tf.tensor4d(data.dy, outputShape(c));
    const common = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: c.dilations };
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...common, inputShape: c.xShape }) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: c.filterShape }) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/**
 * Reference gradients on cpu for any dilation: a dilated conv is a plain conv with zeros inserted
 * into the filter, so dx is that conv's dx and dW is its dW sampled every d taps.
 */
function cpuReference(c: ConvCase, data: CaseData): { dx: Float32Array; dw: Float32Array } {
  const [kh, kw, inC, outC] = c.filterShape;
  const [dh, dw] = c.dilations;
  const bigShape: Shape4 = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, inC, outC];
  const big = new Float32Array(bigShape[0] * bigShape[1] * inC * outC);
  const at = (shape: Shape4, i: number, j: number, k: number, l: number): number =>
    ((i * shape[1] + j) * shape[2] + k) * shape[3] + l;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < inC; k++)
        for (let l = 0; l < outC; l++) big[at(bigShape, i * dh, j * dw, k, l)] = data.filter[at(c.filterShape, i, j, k, l)] as number;
  const plain = { ...c, filterShape: bigShape, dilations: [1, 1] as [number, number] };
  const grads = tfjsGradients(plain, { ...data, filter: big });
  const sampled = new Float32Array(kh * kw * inC * outC);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < inC; k++)
        for (let l = 0; l < outC; l++) sampled[at(c.filterShape, i, j, k, l)] = grads.dw[at(bigShape, i * dh, j * dw, k, l)] as number;
  return { dx: grads.dx, dw: sampled };
}

function makeCases(count: number): { c: ConvCase; data: CaseData }[] {
  const rng = createRng(20_240_601);
  const cases: { c: ConvCase; data: CaseData }[] = [];
  for (let index = 0; index < count; index++) {
    const c = randomConvCase(rng, index, 5, 5);
    cases.push({
      c,
      data: { x: normals(rng, size(c.xShape)), filter: normals(rng, size(c.filterShape)), dy: normals(rng, size(outputShape(c))) },
    });
  }
  return cases;
}

describe('registerWasmGradientKernels', () => {
  const cases = makeCases(36);

  it('matches tfjs cpu gradients of conv2d on random shapes, strides and paddings', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const undilated = cases.filter(({ c }) => c.dilations[0] === 1);
    expect(await expectWasmGradientsMatchCpu(undilated, tfjsGradients)).toBe(29);
  });

  it('honours a dilations attribute (dilation 2) when the kernels are called directly', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const dilated = cases.filter(({ c }) => c.dilations[0] === 2);
    expect(dilated.length).toBe(7);
    for (const { c, data } of dilated) {
      await tf.setBackend('cpu');
      const reference = cpuReference(c, data);
      await tf.setBackend('wasm');
      const actual = await expectNoLeak(() => kernelGradients(c, data));
      const label = JSON.stringify(c);
      expect(relativeError(reference.dx, actual.dx), `dx ${label}`).toBeLessThan(1e-5);
      expect(relativeError(reference.dw, actual.dw), `dW ${label}`).toBeLessThan(1e-5);
    }
  });

  it('computes stride > 1 input gradients by phases, also with dilation 2 and uneven phases', async () => {
    const rng = createRng(31);
    const mixed: ConvCase[] = [
      { xShape: [2, 9, 8, 3], filterShape: [3, 3, 3, 4], strides: [2, 2], dilations: [2, 2], pad: 'same' },
      { xShape: [1, 11, 10, 2], filterShape: [5, 3, 2, 3], strides: [3, 2], dilations: [2, 1], pad: 'valid' },
      { xShape: [2, 7, 9, 2], filterShape: [1, 1, 2, 2], strides: [3, 3], dilations: [1, 1], pad: 'valid' },
      { xShape: [1, 8, 8, 3], filterShape: [4, 4, 3, 2], strides: [2, 2], dilations: [1, 1], pad: [[0, 0], [3, 0], [0, 2], [0, 0]] },
    ];
    for (const c of mixed) {
      const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
      const data = { x: normals(rng, size(c.xShape)), filter: normals(rng, size(c.filterShape)), dy: normals(rng, size(outputShape(c))) };
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
});

/** Float64 direct convolution: y[n,oh,ow,co] = Σ x[n, oh·sh + kh − top, ow·sw + kw − left, ci] · w[kh,kw,ci,co]. */
function conv64(x: ArrayLike<number>, w: ArrayLike<number>, c: ConvCase): Float64Array {
  const info = tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.strides, 1, c.pad, undefined, false, 'channelsLast');
  const [n, h, wd, inC] = c.xShape;
  const [kh, kw, , outC] = c.filterShape;
  const [, oh, ow] = info.outShape;
  const y = new Float64Array(n * oh * ow * outC);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let p = 0; p < kh; p++)
          for (let q = 0; q < kw; q++) {
            const row = i * info.strideHeight + p - info.padInfo.top;
            const col = j * info.strideWidth + q - info.padInfo.left;
            if (row < 0 || row >= h || col < 0 || col >= wd) continue;
            for (let ci = 0; ci < inC; ci++) {
              const xv = x[((b * h + row) * wd + col) * inC + ci] as number;
              for (let co = 0; co < outC; co++) {
                y[((b * oh + i) * ow + j) * outC + co]! += xv * (w[((p * kw + q) * inC + ci) * outC + co] as number);
              }
            }
          }
  return y;
}

describe('registerWasmGradientKernels: checks beyond the cpu reference', () => {
  const tiny: ConvCase = { xShape: [2, 5, 6, 2], filterShape: [3, 3, 2, 3], strides: [2, 2], dilations: [1, 1], pad: 'same' };
  const rng = createRng(7);
  const data: CaseData = { x: normals(rng, 120), filter: normals(rng, 54), dy: normals(rng, 2 * 3 * 3 * 3) };

  it('the float64 reference convolution agrees with the cpu forward conv2d', async () => {
    await tf.setBackend('cpu');
    const forward = await expectNoLeak(() =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(data.x, tiny.xShape), tf.tensor4d(data.filter, tiny.filterShape), 2, 'same').dataSync()),
    );
    expect(relativeError(conv64(data.x, data.filter, tiny), forward)).toBeLessThan(1e-6);
  });

  it('matches central finite differences (float64) of sum(conv2d(x, w) · dy) for dx and dW', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const actual = await expectNoLeak(() => tfjsGradients(tiny, data));
    const loss = (x: ArrayLike<number>, w: ArrayLike<number>): number =>
      conv64(x, w, tiny).reduce((sum, value, i) => sum + value * (data.dy[i] as number), 0);
    const dx = centralDifferences(data.x, (x) => loss(x, data.filter));
    const dw = centralDifferences(data.filter, (w) => loss(data.x, w));
    expect(relativeError(dx, actual.dx)).toBeLessThan(1e-5);
    expect(relativeError(dw, actual.dw)).toBeLessThan(1e-5);
  });

  it('trains a small conv net on wasm without leaking, with the same losses and weights as on cpu', async () => {
    const init = createRng(11);
    const shapes = [[3, 3, 2, 4], [4], [3, 3, 4, 3], [3], [12, 3], [3]];
    const initial = shapes.map((shape) => normals(init, shape.reduce((a, b) => a * b, 1)).map((v) => v * 0.3));
    const inputs = normals(init, 4 * 8 * 8 * 2);
    const labels = new Float32Array(12).map((_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
    const training: TrainingCase = {
      layers: () => [
        tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
      initialWeights: () => initial,
      x: inputs,
      xShape: [4, 8, 8, 2],
      y: labels,
      yShape: [4, 3],
      learningRate: 0.5,
    };
    await expectWasmTrainingMatchesCpu(training);
  });

  it('rejects NCHW with a clear error and registers idempotently', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const first = tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc;
    registerWasmGradientKernels();
    expect(first).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(first);
    await expectNoLeak(() => {
      const x = tf.zeros([1, 2, 4, 4]);
      const dy = tf.zeros([1, 2, 4, 4]);
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [1, 1, 2, 2] };
      expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs)).toThrow(
        "Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' only (received 'NCHW')",
      );
      tf.dispose([x, dy]);
    });
  });
});
