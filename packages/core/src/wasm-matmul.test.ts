import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { createRng } from './rng.js';
import { expectNoLeak, relativeError } from './testing.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

interface MatMulCase {
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const rng = createRng(7);
const values = (shape: number[]): Float32Array =>
  Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.normal());

async function product(backend: string, c: MatMulCase, a: Float32Array, b: Float32Array): Promise<Float32Array> {
  await tf.setBackend(backend);
  const result = tf.tidy(() =>
    tf.matMul(tf.tensor(a, c.aShape), tf.tensor(b, c.bShape), c.transposeA, c.transposeB),
  );
  const data = result.dataSync() as Float32Array;
  result.dispose();
  return data;
}

describe('registerWasmGradientKernels: transposed BatchMatMul on wasm', () => {
  const cases: MatMulCase[] = [
    { aShape: [5, 3], bShape: [5, 4], transposeA: true, transposeB: false },
    { aShape: [3, 5], bShape: [4, 5], transposeA: false, transposeB: true },
    { aShape: [5, 3], bShape: [4, 5], transposeA: true, transposeB: true },
    { aShape: [3, 5], bShape: [5, 4], transposeA: false, transposeB: false },
    { aShape: [2, 6, 3], bShape: [2, 6, 4], transposeA: true, transposeB: false },
    { aShape: [2, 3, 6], bShape: [2, 4, 6], transposeA: false, transposeB: true },
    { aShape: [64, 97], bShape: [64, 10], transposeA: true, transposeB: false },
  ];

  it.each(cases)('matches the cpu backend for a %o', async (c) => {
    const a = values(c.aShape);
    const b = values(c.bShape);
    const reference = await product('cpu', c, a, b);
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const actual = await expectNoLeak(() => product('wasm', c, a, b).then((r) => Array.from(r)));
    expect(relativeError(reference, actual)).toBeLessThan(1e-5);
  });

  it('replaces the stock kernel, once', async () => {
    await tf.setBackend('wasm');
    registerWasmGradientKernels();
    const first = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    registerWasmGradientKernels();
    expect(first?.name).toBe('batchMatMul');
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(first);
  });

  it('gives a dense layer the same gradients as the cpu backend', async () => {
    const x = values([8, 12]);
    const w = values([12, 5]);
    const grads = async (backend: string): Promise<number[][]> => {
      await tf.setBackend(backend);
      if (backend === 'wasm') registerWasmGradientKernels();
      return tf.tidy(() => {
        const xs = tf.tensor2d(x, [8, 12]);
        const ws = tf.tensor2d(w, [12, 5]);
        const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D).square().sum())([
          xs,
          ws,
        ]) as [tf.Tensor, tf.Tensor];
        return [Array.from(dx.dataSync()), Array.from(dw.dataSync())];
      });
    };
    const reference = await grads('cpu');
    const actual = await expectNoLeak(() => grads('wasm'));
    for (let k = 0; k < 2; k++) expect(relativeError(reference[k]!, actual[k]!)).toBeLessThan(1e-5);
  });
});
