import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng } from './rng.js';
import { expectNoLeak } from './testing.js';
import { listKernelAssignments, withKernelProviders } from './kernel-registry.js';
import { RELU_GRAD_KERNEL } from './relu-gradient.js';
import { useWasmWithNative } from './native-wasm.test-helpers.js';

// The fused relu gradient is checked bit for bit against tfjs's own rule, mul(dy, cast(step(x), 'float32')), run by
// the stock wasm kernels (every provider off), on values that include the cases where a select and a product differ.
const rng = createRng(31);

useWasmWithNative();

/** x and dy with NaN, ±0, ±∞ and both signs, in every pairing, then random normals; `count` values each. */
function specialValues(count: number): { x: Float32Array; dy: Float32Array } {
  const specials = [NaN, 0, -0, Infinity, -Infinity, 1, -1, 1e-40, -1e-40, 3.5, -2.25];
  const x = new Float32Array(count);
  const dy = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const pair = i < specials.length ** 2;
    x[i] = pair ? (specials[i % specials.length] as number) : rng.normal();
    dy[i] = pair ? (specials[Math.floor(i / specials.length)] as number) : rng.normal();
  }
  return { x, dy };
}

/** The bits of each float, so that -0 differs from 0 and NaN compares equal to NaN. */
function bits(values: Float32Array): string[] {
  return Array.from(values, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v)));
}

async function fused(x: Float32Array, dy: Float32Array, shape: number[]): Promise<Float32Array> {
  const out = tf.tidy(() => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: tf.tensor(dy, shape), x: tf.tensor(x, shape) }, {}) as tf.Tensor);
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

async function stockRule(x: Float32Array, dy: Float32Array, shape: number[]): Promise<Float32Array> {
  return withKernelProviders({ only: [] }, async () => {
    const out = tf.tidy(() => tf.mul(tf.tensor(dy, shape), tf.cast(tf.step(tf.tensor(x, shape)), 'float32')));
    const values = (await out.data()) as Float32Array;
    out.dispose();
    return values;
  });
}

describe('ConvkitReluGrad: relu\'s gradient in one kernel', () => {
  it('is served on wasm by oneDNN\'s threads, with convkit\'s WebAssembly loop below', () => {
    expect(listKernelAssignments('wasm').find((a) => a.kernel === RELU_GRAD_KERNEL)).toEqual({
      backend: 'wasm',
      kernel: RELU_GRAD_KERNEL,
      servedBy: 'native',
      fallbacks: ['wasm-gradients'],
    });
  });

  // 121 special pairs, sizes that leave 0–3 floats after the SIMD groups of four, and one past the addon's
  // threading threshold (65,536).
  it.each([[121], [122], [123], [124], [131], [70_001]])('matches tfjs\'s rule bit for bit (NaN, ±0, ±∞) on %i values, both providers', async (count) => {
    const { x, dy } = specialValues(count);
    const shape = [count];
    const expected = bits(await stockRule(x, dy, shape));
    const native = await expectNoLeak(() => fused(x, dy, shape));
    const wasm = await withKernelProviders({ disable: ['native'] }, () => expectNoLeak(() => fused(x, dy, shape)));
    expect(bits(native)).toEqual(expected);
    expect(bits(wasm)).toEqual(expected);
    // Spot checks against the rule written out: dy where x > 0; dy·0 (a signed zero, NaN for infinite dy) at x ≤ 0; NaN at x NaN.
    const at = (xi: number, dyi: number): number => dyi * 11 + xi;
    expect(bits(native.subarray(at(0, 5), at(3, 5)))).toEqual(['NaN', '0', '0']); // x NaN, 0, -0 with dy 1
    expect(native[at(5, 6)]).toBe(-1); // x 1, dy -1
    expect(Object.is(native[at(6, 6)], -0)).toBe(true); // x -1, dy -1
    expect(Number.isNaN(native[at(1, 3)] as number)).toBe(true); // x 0, dy ∞: ∞·0
    expect(native[at(3, 4)]).toBe(-Infinity); // x ∞, dy -∞
    expect(Object.is(native[at(8, 5)], 0)).toBe(true); // x -1e-40 (a float32 zero) , dy 1
  });

  it('makes tf.grad of relu equal tfjs\'s gradient bit for bit, with one kernel instead of Step, Cast and Multiply', async () => {
    const h = tf.tensor4d(Float32Array.from({ length: 2 * 8 * 8 * 5 }, () => rng.normal()), [2, 8, 8, 5]);
    const c = tf.tensor4d(Float32Array.from({ length: 2 * 8 * 8 * 5 }, () => rng.normal()), [2, 8, 8, 5]);
    const f = (a: tf.Tensor): tf.Scalar => tf.tidy(() => tf.relu(a).mul(c).sum() as tf.Scalar);
    const run = async (): Promise<{ names: string[]; values: string[] }> => {
      let dx: tf.Tensor | undefined;
      const profile = await tf.profile(() => {
        dx = tf.grad(f)(h);
        return dx;
      });
      const values = bits((await dx!.data()) as Float32Array);
      dx!.dispose();
      return { names: profile.kernels.map((k) => k.name), values };
    };
    const fusedRun = await expectNoLeak(run);
    const stockRun = await withKernelProviders({ only: [] }, run);
    expect(fusedRun.values).toEqual(stockRun.values);
    expect(fusedRun.names.filter((n) => n === RELU_GRAD_KERNEL)).toHaveLength(1);
    expect(fusedRun.names).not.toContain('Step');
    expect(stockRun.names).toEqual(expect.arrayContaining(['Step', 'Cast']));
    expect(stockRun.names).not.toContain(RELU_GRAD_KERNEL);
    tf.dispose([h, c]);
  });

  it('has a second derivative: d/dy of the gradient is the relu mask, as with tfjs\'s rule', async () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2]);
    const d2 = await expectNoLeak(async () => {
      // g(x) = Σ relu'(x)·x·c, differentiated again through the fused kernel's own gradient, wrt x: d/dx[relu(x)·relu(x)]'.
      const out = tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.relu(u).square().sum())(t).sum())(x);
      const values = Array.from(await out.data());
      out.dispose();
      return values;
    });
    const reference = await withKernelProviders({ only: [] }, async () => {
      const out = tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.relu(u).square().sum())(t).sum())(x);
      const values = Array.from(await out.data());
      out.dispose();
      return values;
    });
    // d/dx 2·relu(x)·step(x) = 2·step(x) (the mask's own derivative is 0).
    expect(d2).toEqual([0, 0, 0, 2, 2]);
    expect(d2).toEqual(reference);
    x.dispose();
  });

  it('leaves other backends on tfjs\'s rule (no kernel there): cpu\'s relu gradient is unchanged', async () => {
    await tf.setBackend('cpu');
    try {
      expect(tf.getKernel(RELU_GRAD_KERNEL, 'cpu')).toBeUndefined();
      const dx = tf.grad((t: tf.Tensor) => tf.relu(t).mul(tf.tensor1d([1, -2, 3, 4])).sum())(tf.tensor1d([-1, 2, 0, NaN]));
      expect(bits((await dx.data()) as Float32Array)).toEqual(['0', '-2', '0', 'NaN']);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('wasm-identity: Cast', () => {
  it('makes no copy for a same-dtype cast and still converts between dtypes', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor1d([1.5, -2, 0]);
      const before = tf.memory().numDataBuffers;
      const same = tf.cast(x, 'float32');
      expect(tf.memory().numDataBuffers).toBe(before);
      x.dispose();
      expect(Array.from(await same.data())).toEqual([1.5, -2, 0]);
      const converted = tf.cast(same, 'int32');
      expect(tf.memory().numDataBuffers).toBe(before + 1);
      expect(converted.dtype).toBe('int32');
      expect(Array.from(await converted.data())).toEqual([1, -2, 0]);
      tf.dispose([same, converted]);
    });
    const copied = withKernelProviders({ disable: ['wasm-identity'] }, () => {
      const x = tf.tensor1d([1, 2]);
      const before = tf.memory().numDataBuffers;
      const y = tf.cast(x, 'float32');
      const made = tf.memory().numDataBuffers - before;
      tf.dispose([x, y]);
      return made;
    });
    expect(copied).toBe(1);
  });

  it('casts int32 and float32 to bool as x ≠ 0, as cpu does (the stock wasm kernel keeps the low byte: -2 → 254, 256 → 0)', async () => {
    const ints = [1, -2, 0, 256, -256, 2147483647];
    const floats = [0.5, -0, 0, NaN, -Infinity, 1e-40, 256];
    const castAll = async (): Promise<number[][]> => {
      const inputs = [tf.tensor1d(ints, 'int32'), tf.tensor1d(floats)];
      const [a, b] = inputs.map((t) => tf.cast(t, 'bool')) as [tf.Tensor, tf.Tensor];
      const result = [Array.from(await a.data()), Array.from(await b.data())];
      expect([a.dtype, b.dtype]).toEqual(['bool', 'bool']);
      tf.dispose([...inputs, a, b]);
      return result;
    };
    await tf.setBackend('cpu');
    const reference = await castAll();
    await tf.setBackend('wasm');
    const wasm = await expectNoLeak(castAll);
    expect(reference).toEqual([[1, 1, 0, 1, 1, 1], [1, 0, 0, 1, 1, 1, 1]]); // 1e-40 is a float32 subnormal, not 0
    expect(wasm).toEqual(reference);
    const stock = await withKernelProviders({ only: [] }, castAll);
    expect(stock[0]).not.toEqual(reference[0]); // what the provider fixes
  });
});
