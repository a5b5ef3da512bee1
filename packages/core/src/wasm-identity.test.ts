import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { listKernelAssignments, withKernelProviders } from './kernel-registry.js';
import { createRng } from './rng.js';
import { expectNoLeak } from './testing.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

const rng = createRng(11);
const normals = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
});

describe('wasm-identity: Identity without a copy on wasm', () => {
  it('serves Identity on wasm through the registry, above the stock kernel', () => {
    expect(listKernelAssignments('wasm').find((a) => a.kernel === 'Identity')).toEqual({
      backend: 'wasm',
      kernel: 'Identity',
      servedBy: 'wasm-identity',
      fallbacks: ['stock'],
    });
  });

  it('shares the buffer: one data buffer for both tensors, each readable after the other is disposed, none left', async () => {
    await expectNoLeak(async () => {
      const values = normals(24);
      const before = tf.memory().numDataBuffers;
      const x = tf.tensor3d(values, [2, 3, 4]);
      const y = tf.clone(x);
      expect(tf.memory().numDataBuffers).toBe(before + 1);
      x.dispose();
      expect(Array.from(await y.data())).toEqual(Array.from(values));
      expect(y.shape).toEqual([2, 3, 4]);
      const z = tf.clone(y);
      y.dispose();
      expect(Array.from(await z.data())).toEqual(Array.from(values));
      z.dispose();
      expect(tf.memory().numDataBuffers).toBe(before);
    });
  });

  it('copies with the stock kernel when the provider is off (what it replaces)', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numDataBuffers;
    const y = withKernelProviders({ disable: ['wasm-identity'] }, () => tf.clone(x));
    expect(tf.memory().numDataBuffers).toBe(before + 1);
    tf.dispose([x, y]);
  });

  it('gives bit-identical gradients of a conv net to the copying stock kernel (the tape saves its tensors through Identity)', async () => {
    const [shared, copied] = await expectNoLeak(async () => {
      const x = tf.tensor4d(normals(2 * 6 * 6 * 2), [2, 6, 6, 2]);
      const w1 = tf.tidy(() => tf.variable(tf.tensor4d(normals(3 * 3 * 2 * 4), [3, 3, 2, 4])));
      const w2 = tf.tidy(() => tf.variable(tf.tensor2d(normals(3 * 3 * 4 * 3), [3 * 3 * 4, 3])));
      const loss = (): tf.Scalar =>
        tf.tidy(() => {
          const h = tf.maxPool(tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same')), 2, 2, 'valid');
          return tf.sum(tf.square(tf.matMul(tf.reshape(h, [2, 3 * 3 * 4]), w2 as tf.Tensor2D))) as tf.Scalar;
        });
      const gradients = async (): Promise<number[]> => {
        const { value, grads } = tf.variableGrads(loss, [w1, w2]);
        const flat = [...(await value.data()), ...(await grads[w1.name]!.data()), ...(await grads[w2.name]!.data())];
        tf.dispose([value, grads[w1.name]!, grads[w2.name]!]);
        return Array.from(flat);
      };
      const result = [await gradients(), await withKernelProviders({ disable: ['wasm-identity'] }, gradients)];
      tf.dispose([x, w1, w2]);
      return result;
    });
    expect(shared.length).toBe(1 + 3 * 3 * 2 * 4 + 3 * 3 * 4 * 3);
    expect(shared).toEqual(copied);
  });
});
