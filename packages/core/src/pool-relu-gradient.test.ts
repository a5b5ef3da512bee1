import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng } from './rng.js';
import { expectNoLeak } from './testing.js';
import { fusedConv2d } from './fused-conv.js';
import { MAX_POOL_RELU_GRAD_KERNEL } from './pool-relu-gradient.js';
import { RELU_BIAS_GRAD_KERNEL } from './relu-gradient.js';
import { useWasmWithNative } from './native-wasm.test-helpers.js';

// Reference: the same block with `tf.add(y, 0)` between the convolution and the pool. The sum leaves every value as it
// is, but the pool then reads a new tensor, so the gradient takes the unfused kernels (MaxPoolGrad, then
// ConvkitReluBiasGrad): exactly what ran before the pool's gradient learned to apply relu's mask.
const rng = createRng(91);

useWasmWithNative();

function normal(shape: number[], shift = 0): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.normal() + shift), shape);
}

type Block = (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) => tf.Tensor;

const conv = (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor): tf.Tensor =>
  fusedConv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides: 1, pad: 'same', activation: 'relu' });
const pool = (y: tf.Tensor, size: number, stride: number): tf.Tensor => tf.maxPool(y as tf.Tensor4D, size, stride, 'valid');

async function gradients(block: Block, inputs: tf.Tensor[], c: tf.Tensor): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  let grads: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    grads = tf.grads((x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.mul(block(x, filter, bias), c)))(inputs);
    return grads;
  });
  const out = { grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)), kernels: profile.kernels.map((k) => k.name) };
  tf.dispose(grads);
  return out;
}

function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
}

describe('MaxPool gradient with relu mask (conv → relu → max pool)', () => {
  it.each([
    ['2×2 stride 2 (one pass)', 2, 2, [3, 12, 10, 4]],
    ['odd sizes: a row and a column in no window', 2, 2, [2, 9, 11, 3]],
    ['3×3 stride 2 (the addon falls back to the two kernels)', 3, 2, [2, 11, 11, 3]],
  ] as const)('%s: the same gradients bit for bit as the unfused kernels, with one kernel fewer', async (_name, size, stride, shape) => {
    // A negative shift makes many relu outputs 0, so whole windows are 0 and the mask matters.
    const x = normal([...shape], -0.3);
    const filter = normal([3, 3, shape[3], 8]);
    const bias = normal([8], -0.2);
    const pooled = Math.floor((shape[1] - size) / stride) + 1;
    const pooledW = Math.floor((shape[2] - size) / stride) + 1;
    const c = normal([shape[0], pooled, pooledW, 8]);
    await expectNoLeak(async () => {
      const fused = await gradients((a, f, b) => pool(conv(a, f, b), size, stride), [x, filter, bias], c);
      const reference = await gradients((a, f, b) => pool(tf.add(conv(a, f, b), 0), size, stride), [x, filter, bias], c);
      fused.grads.forEach((grad, i) => expect(bitIdentical(grad, reference.grads[i]!), `gradient ${i}`).toBe(true));
      expect(fused.kernels).toContain(MAX_POOL_RELU_GRAD_KERNEL);
      expect(fused.kernels).not.toContain(RELU_BIAS_GRAD_KERNEL);
      expect(fused.kernels).not.toContain('MaxPoolGrad');
      expect(reference.kernels).toContain(RELU_BIAS_GRAD_KERNEL);
      expect(reference.kernels).not.toContain(MAX_POOL_RELU_GRAD_KERNEL);
      // The bias gradient: summed by the 2×2 pool's kernel in its pass (no Sum beyond the loss's, as in the reference,
      // where ConvkitReluBiasGrad sums); the 3×3 pool's fallback leaves a Sum to the convolution's gradient.
      const sums = (kernels: string[]): number => kernels.filter((k) => k === 'Sum').length;
      expect(sums(fused.kernels)).toBe(sums(reference.kernels) + (size === 2 ? 0 : 1));
    });
    tf.dispose([x, filter, bias, c]);
  });

  it("never masks a gradient the caller asks for: the pool's input as one of the xs gets tfjs's maxPoolGrad", async () => {
    const x = normal([2, 8, 8, 3], -1); // mostly negative: many windows of zeros after relu
    const filter = normal([3, 3, 3, 4]);
    const bias = normal([4], -1);
    const y = conv(x, filter, bias);
    const c = normal([2, 4, 4, 4]);
    await expectNoLeak(async () => {
      let grad: tf.Tensor | undefined;
      const profile = await tf.profile(() => {
        grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(pool(input, 2, 2), c)))(y);
        return grad;
      });
      const expected = tf.tidy(
        () => tf.engine().runKernel('MaxPoolGrad', { dy: c, input: y, output: pool(y, 2, 2) }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor,
      );
      const [got, want, values] = await Promise.all([grad!.data(), expected.data(), y.data()]);
      expect(bitIdentical(got as Float32Array, want as Float32Array)).toBe(true);
      // The masked kernel would have zeroed these: the first zero of an all-zero window takes the window's gradient.
      const routedThroughZeros = Array.from(got).filter((value, i) => value !== 0 && values[i] === 0).length;
      expect(routedThroughZeros).toBeGreaterThan(0);
      expect(profile.kernels.map((k) => k.name)).not.toContain(MAX_POOL_RELU_GRAD_KERNEL);
      tf.dispose([grad!, expected]);
    });
    tf.dispose([x, filter, bias, y, c]);
  });

  it('a relu output that also feeds another op: the gradients add up as without the fused kernel', async () => {
    const x = normal([2, 8, 8, 3], -0.3);
    const filter = normal([3, 3, 3, 4]);
    const bias = normal([4]);
    const c = normal([2, 4, 4, 4]);
    const d = normal([2, 8, 8, 4]);
    const branches = (y: tf.Tensor): tf.Tensor => tf.add(tf.sum(tf.mul(pool(y, 2, 2), c)), tf.sum(tf.mul(y, d)));
    const one = tf.scalar(1);
    const fused = await gradients((a, f, b) => branches(conv(a, f, b)), [x, filter, bias], one);
    const reference = await gradients((a, f, b) => branches(tf.add(conv(a, f, b), 0)), [x, filter, bias], one);
    // The pool's masked gradient is summed with the other branch's, so the layer's gradient runs relu's mask again on
    // the sum (the mask is idempotent): the same gradients as the unfused kernels.
    fused.grads.forEach((grad, i) => expect(bitIdentical(grad, reference.grads[i]!), `gradient ${i}`).toBe(true));
    expect(fused.kernels).toContain(MAX_POOL_RELU_GRAD_KERNEL);
    expect(fused.kernels).toContain(RELU_BIAS_GRAD_KERNEL);
    tf.dispose([x, filter, bias, c, d, one]);
  });

  it('keeps masking after a gradient computation threw (the running xs are popped)', async () => {
    const x = normal([1, 6, 6, 2], -0.3);
    const filter = normal([3, 3, 2, 4]);
    const bias = normal([4]);
    expect(() =>
      tf.grad((input: tf.Tensor) => {
        throw new Error(`no gradient for ${input.shape}`);
      })(x),
    ).toThrow('no gradient for 1,6,6,2');
    const c = normal([1, 3, 3, 4]);
    const { kernels } = await gradients((a, f, b) => pool(conv(a, f, b), 2, 2), [x, filter, bias], c);
    expect(kernels).toContain(MAX_POOL_RELU_GRAD_KERNEL);
    tf.dispose([x, filter, bias, c]);
  });
});
