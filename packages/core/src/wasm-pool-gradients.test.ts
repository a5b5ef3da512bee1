import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { expectNoLeak, relativeError } from './testing.js';
import { createRng } from './rng.js';
import type { Rng } from './rng.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

interface PoolCase {
  xShape: Shape4;
  filterSize: [number, number];
  strides: [number, number];
  pad: Pad;
}


function randomCase(rng: Rng, index: number): PoolCase {
  const filterSize: [number, number] = [rng.int(1, 5), rng.int(1, 5)];
  const padKind = ['same', 'valid', 'explicit', 'number'][index % 4] as string;
  const square = padKind === 'number';
  if (square) filterSize[1] = filterSize[0];
  const stride = rng.int(1, 4);
  const strides: [number, number] = [stride, square ? stride : rng.int(1, 4)];
  let height = rng.int(filterSize[0], filterSize[0] + 8);
  let width = rng.int(filterSize[1], filterSize[1] + 8);
  let pad: Pad = padKind as 'same' | 'valid';
  if (padKind === 'explicit') pad = [[0, 0], [rng.int(0, filterSize[0]), rng.int(0, filterSize[0])], [rng.int(0, filterSize[1]), rng.int(0, filterSize[1])], [0, 0]];
  if (padKind === 'number') {
    const amount = rng.int(0, Math.ceil(filterSize[0] / 2));
    pad = amount;
    height += (stride - ((height + 2 * amount - filterSize[0]) % stride)) % stride;
    width += (stride - ((width + 2 * amount - filterSize[1]) % stride)) % stride;
  }
  return { xShape: [rng.int(1, 4), height, width, rng.int(1, 7)], filterSize, strides, pad };
}

/** Values with many exact ties: relu of normals rounded to a coarse grid, as after a relu layer. */
function tiedValues(rng: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => Math.max(0, Math.round(rng.normal() * 2) / 2));
}

function normals(rng: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal());
}

/** Runs MaxPoolGrad and AvgPoolGrad on the active backend, returning plain arrays. */
function poolGradients(c: PoolCase, x: Float32Array, dySeed: Float32Array): { max: Float32Array; avg: Float32Array } {
  return tf.tidy(() => {
    const input = tf.tensor4d(x, c.xShape);
    const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad };
    const maxOut = tf.engine().runKernel('MaxPool', { x: input }, attrs) as tf.Tensor;
    const dy = tf.tensor(dySeed.subarray(0, maxOut.size), maxOut.shape);
    const max = tf.engine().runKernel('MaxPoolGrad', { dy, input, output: maxOut }, attrs) as tf.Tensor;
    const avg = tf.engine().runKernel('AvgPoolGrad', { dy, input }, attrs) as tf.Tensor;
    return { max: max.dataSync() as Float32Array, avg: avg.dataSync() as Float32Array };
  });
}

describe('registerWasmGradientKernels: pool gradients', () => {
  it('MaxPoolGrad and AvgPoolGrad match the cpu kernels on random shapes, strides and paddings, ties included', async () => {
    const rng = createRng(4242);
    for (let index = 0; index < 40; index++) {
      const c = randomCase(rng, index);
      const size = c.xShape.reduce((a, b) => a * b, 1);
      const x = index % 2 === 0 ? tiedValues(rng, size) : normals(rng, size);
      const dy = normals(rng, size * 4);
      await tf.setBackend('cpu');
      const reference = poolGradients(c, x, dy);
      await tf.setBackend('wasm');
      registerWasmGradientKernels();
      const actual = await expectNoLeak(() => poolGradients(c, x, dy));
      const label = JSON.stringify(c);
      expect(relativeError(reference.max, actual.max), `MaxPoolGrad ${label}`).toBeLessThan(1e-5);
      expect(relativeError(reference.avg, actual.avg), `AvgPoolGrad ${label}`).toBeLessThan(1e-5);
    }
  });

  it('MaxPoolGrad takes the 2×2 fast path with the cpu kernel\'s tie rule (first maximum wins), odd sizes included', async () => {
    const rng = createRng(77);
    const cases: PoolCase[] = [
      { xShape: [3, 8, 10, 5], filterSize: [2, 2], strides: [2, 2], pad: 'valid' },
      { xShape: [2, 7, 9, 3], filterSize: [2, 2], strides: [2, 2], pad: 'valid' },
      { xShape: [2, 7, 9, 3], filterSize: [2, 2], strides: [2, 2], pad: 'same' },
      { xShape: [1, 6, 6, 4], filterSize: [2, 2], strides: [1, 1], pad: 'valid' },
    ];
    for (const c of cases) {
      const size = c.xShape.reduce((a, b) => a * b, 1);
      // All-zero windows (every element tied) and half-tied ones, as after a relu.
      const x = Float32Array.from(tiedValues(rng, size), (v, i) => (i % 7 < 3 ? 0 : v));
      const dy = normals(rng, size);
      await tf.setBackend('cpu');
      const reference = poolGradients(c, x, dy);
      await tf.setBackend('wasm');
      registerWasmGradientKernels();
      const actual = await expectNoLeak(() => poolGradients(c, x, dy));
      expect(relativeError(reference.max, actual.max), `MaxPoolGrad ${JSON.stringify(c)}`).toBeLessThan(1e-6);
    }
    // A hand-made window: the tie between the top-right and bottom-left elements goes to the top-right one.
    await expectNoLeak(() =>
      tf.tidy(() => {
        const input = tf.tensor4d([1, 3, 3, 2], [1, 2, 2, 1]);
        const output = tf.tensor4d([3], [1, 1, 1, 1]);
        const dy = tf.tensor4d([5], [1, 1, 1, 1]);
        const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
        expect(Array.from(dx.dataSync())).toEqual([0, 5, 0, 0]);
      }),
    );
  });

  it('tf.grad of maxPool and avgPool matches central finite differences (float64)', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const c: PoolCase = { xShape: [2, 5, 6, 3], filterSize: [3, 2], strides: [2, 2], pad: 'same' };
    const rng = createRng(9);
    // Distinct values (no ties), so the max is differentiable.
    const x = Float32Array.from(rng.permutation(180), (v) => v / 10 - 9);
    const [, oh, ow] = tf.backend_util.computePool2DInfo(c.xShape, c.filterSize, c.strides, 1, 'same').outShape;
    const dy = normals(rng, 2 * oh * ow * 3);
    const pool64 = (values: ArrayLike<number>, kind: 'max' | 'avg'): number => {
      const info = tf.backend_util.computePool2DInfo(c.xShape, c.filterSize, c.strides, 1, 'same');
      const [n, h, w, ch] = c.xShape;
      let loss = 0;
      for (let b = 0; b < n; b++)
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++)
            for (let d = 0; d < ch; d++) {
              let best = -Infinity;
              let sum = 0;
              let count = 0;
              for (let p = 0; p < c.filterSize[0]; p++)
                for (let q = 0; q < c.filterSize[1]; q++) {
                  const row = i * c.strides[0] + p - info.padInfo.top;
                  const col = j * c.strides[1] + q - info.padInfo.left;
                  if (row < 0 || row >= h || col < 0 || col >= w) continue;
                  const v = values[((b * h + row) * w + col) * ch + d] as number;
                  best = Math.max(best, v);
                  sum += v;
                  count++;
                }
              loss += (kind === 'max' ? best : sum / count) * (dy[((b * oh + i) * ow + j) * ch + d] as number);
            }
      return loss;
    };
    const numeric = (kind: 'max' | 'avg'): Float64Array =>
      Float64Array.from(x, (_, i) => {
        const plus = Float64Array.from(x);
        const minus = Float64Array.from(x);
        plus[i]! += 1e-3;
        minus[i]! -= 1e-3;
        return (pool64(plus, kind) - pool64(minus, kind)) / 2e-3;
      });
    const actual = await expectNoLeak(() =>
      tf.tidy(() => {
        const input = tf.tensor4d(x, c.xShape);
        const weights = tf.tensor(dy, [2, oh, ow, 3]);
        const max = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.filterSize, c.strides, 'same').mul(weights).sum())(input);
        return { max: max.dataSync() as Float32Array };
      }),
    );
    expect(relativeError(numeric('max'), actual.max)).toBeLessThan(1e-5);
    // tfjs's avg-pool gradient divides by the full window size (as the cpu kernel does), so the finite-difference
    // check uses 'valid' windows, where every window is full.
    const valid: PoolCase = { ...c, pad: 'valid' };
    const [, vh, vw] = tf.backend_util.computePool2DInfo(c.xShape, c.filterSize, c.strides, 1, 'valid').outShape;
    const vdy = dy.subarray(0, 2 * vh * vw * 3);
    const avgLoss = (values: ArrayLike<number>): number => {
      const [, h, w, ch] = valid.xShape;
      let loss = 0;
      for (let b = 0; b < 2; b++)
        for (let i = 0; i < vh; i++)
          for (let j = 0; j < vw; j++)
            for (let d = 0; d < ch; d++) {
              let sum = 0;
              for (let p = 0; p < 3; p++)
                for (let q = 0; q < 2; q++) sum += values[((b * h + i * 2 + p) * w + j * 2 + q) * ch + d] as number;
              loss += (sum / 6) * (vdy[((b * vh + i) * vw + j) * ch + d] as number);
            }
      return loss;
    };
    const avgNumeric = Float64Array.from(x, (_, i) => {
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      plus[i]! += 1e-3;
      minus[i]! -= 1e-3;
      return (avgLoss(plus) - avgLoss(minus)) / 2e-3;
    });
    const avg = await expectNoLeak(() =>
      tf.tidy(() => {
        const weights = tf.tensor(vdy, [2, vh, vw, 3]);
        const grad = tf.grad((t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, c.filterSize, c.strides, 'valid').mul(weights).sum());
        return grad(tf.tensor4d(x, c.xShape)).dataSync() as Float32Array;
      }),
    );
    expect(relativeError(avgNumeric, avg)).toBeLessThan(1e-5);
  });
});
