import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng } from './rng.js';
import { expectNoLeak } from './testing.js';
import { fusedConv2d } from './fused-conv.js';
import {
  BLOCKED_CONV_BACKPROP_FILTER_KERNEL,
  BLOCKED_CONV_BACKPROP_INPUT_KERNEL,
  BLOCKED_CONV_KERNEL,
  BLOCKED_RELU_POOL_GRAD_KERNEL,
  BLOCKED_RELU_POOL_KERNEL,
  CONV_RELU_POOL_GRAD_KERNEL,
  CONV_RELU_POOL_KERNEL,
} from './conv-pool-names.js';
import { Conv2DReluPool, conv2dPoolLayer, conv2dReluPool } from './conv-pool.js';
import { loadNative } from '@convkit/native';
import { useWasmWithNative } from './native-wasm.test-helpers.js';

// The reference: the separate kernels (oneDNN's convolution with bias and relu, the max pool), tested elsewhere.
const rng = createRng(57);
useWasmWithNative();

function normal(shape: number[], scale = 1, shift = 0): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => rng.normal() * scale + shift), shape);
}

const separate = (x: tf.Tensor, filter: tf.Tensor, bias: tf.Tensor | undefined, pad: 'same' | 'valid'): tf.Tensor =>
  tf.maxPool(tf.relu(bias === undefined ? tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, pad) : tf.add(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, pad), bias)) as tf.Tensor4D, 2, 2, 'valid');

/** The largest |a − b| over the largest |b|. */
async function relativeError(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [av, bv] = [await a.data(), await b.data()];
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < bv.length; i++) {
    worst = Math.max(worst, Math.abs((av[i] as number) - (bv[i] as number)));
    scale = Math.max(scale, Math.abs(bv[i] as number));
  }
  return worst / Math.max(scale, 1e-12);
}

async function kernelsOf(fn: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(fn);
  return info.kernels.map((k) => k.name);
}

describe('conv2dReluPool: conv + bias + relu + 2×2 max pool as one kernel', () => {
  it.each([
    ['W1 first block: 1 → 32 channels, 28×28 same', [4, 28, 28, 1], [3, 3, 1, 32], 'same'],
    ['3 → 16 channels, 5×5 valid on 13×12 (odd output: a row and a column no window covers)', [2, 13, 12, 3], [5, 5, 3, 16], 'valid'],
    ['2 → 20 channels (a block of 16 and 4 more), 9×7 same', [3, 9, 7, 2], [3, 3, 2, 20], 'same'],
  ] as const)('%s: the separate kernels\' values and gradients, through the one kernel', async (_name, xShape, fShape, pad) => {
    const x = normal([...xShape], 1, 0.1);
    const filter = normal([...fShape], 0.4);
    const bias = normal([fShape[3]], 0.2, -0.1);
    const pooled = separate(x, filter, bias, pad);
    const c = normal(pooled.shape);
    await expectNoLeak(async () => {
      const y = conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad });
      expect(y.shape).toEqual(pooled.shape);
      expect(await relativeError(y, pooled)).toBeLessThan(1e-6);
      y.dispose();
      const loss = (block: (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(block(a, f, b), c));
      const fused = tf.grads(loss((a, f, b) => conv2dReluPool({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, pad })))([x, filter, bias]);
      const reference = tf.grads(loss((a, f, b) => separate(a, f, b, pad)))([x, filter, bias]);
      // The input's gradient goes through the same relu/pool gradient and oneDNN's backward-data pass; the filter and
      // bias gradients are summed in another order.
      expect(await relativeError(fused[0]!, reference[0]!)).toBeLessThan(1e-6);
      expect(await relativeError(fused[1]!, reference[1]!)).toBeLessThan(1e-5);
      expect(await relativeError(fused[2]!, reference[2]!)).toBeLessThan(1e-5);
      tf.dispose([...fused, ...reference]);
    });
    const kernels = await kernelsOf(() => tf.grads((f: tf.Tensor, b: tf.Tensor) => tf.sum(conv2dReluPool({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, pad })))([filter, bias]));
    expect(kernels).toContain(CONV_RELU_POOL_KERNEL);
    // The filter's and the bias's gradients from one backward kernel; the input's is not asked for.
    expect(kernels.filter((k) => k === CONV_RELU_POOL_GRAD_KERNEL)).toHaveLength(1);
    expect(kernels).not.toContain('Conv2DBackpropFilter');
    expect(kernels).not.toContain('Conv2DBackpropInput');
    expect(kernels).not.toContain('MaxPool');
    tf.dispose([x, filter, bias, pooled, c]);
  });

  it('keeps relu\'s NaN out of the pool as the separate kernels do, and passes NaN into the gradients', async () => {
    const x = normal([1, 6, 6, 1]);
    const values = (await x.data()).slice();
    values[7] = Number.NaN;
    const xn = tf.tensor4d(values, [1, 6, 6, 1]);
    const filter = normal([3, 3, 1, 16], 0.5);
    const bias = normal([16], 0.1);
    const fused = conv2dReluPool({ x: xn, filter: filter as tf.Tensor4D, bias, pad: 'same' });
    const reference = separate(xn, filter, bias, 'same');
    const [a, b] = [await fused.data(), await reference.data()];
    // Windows around the NaN: relu keeps it, the pool never picks it (−∞ where a window holds nothing else).
    expect(b.some((v) => v === Number.NEGATIVE_INFINITY)).toBe(true);
    const close = (v: number, w: number): boolean => v === w || Math.abs(v - w) < 1e-5;
    expect(Array.from(a).map((v, i) => (Number.isNaN(v) ? 'NaN' : close(v, b[i] as number)))).toEqual(Array.from(b).map((v) => (Number.isNaN(v) ? 'NaN' : true)));
    const [dfilter] = tf.grads((f: tf.Tensor) => tf.sum(conv2dReluPool({ x: xn, filter: f as tf.Tensor4D, bias, pad: 'same' })))([filter]);
    const [expected] = tf.grads((f: tf.Tensor) => tf.sum(separate(xn, f, bias, 'same')))([filter]);
    expect(Array.from(await dfilter!.data()).map(Number.isNaN)).toEqual(Array.from(await expected!.data()).map(Number.isNaN));
    tf.dispose([x, xn, filter, bias, fused, reference, dfilter!, expected!]);
  });

  it('runs the separate kernels (fusedConv2d, then tf.maxPool) above 4 input channels, without a bias, and on cpu', async () => {
    const cases = [
      { x: normal([2, 8, 8, 8]), filter: normal([3, 3, 8, 16], 0.3), bias: normal([16]) },
      { x: normal([2, 8, 8, 1]), filter: normal([3, 3, 1, 16], 0.3), bias: undefined },
    ];
    for (const { x, filter, bias } of cases) {
      const kernels = await kernelsOf(() => conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad: 'same' }));
      expect(kernels).not.toContain(CONV_RELU_POOL_KERNEL);
      const fused = conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad: 'same' });
      const reference = tf.maxPool(fusedConv2d({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides: 1, pad: 'same', activation: 'relu' }) as tf.Tensor4D, 2, 2, 'valid');
      expect(Array.from(await fused.data())).toEqual(Array.from(await reference.data()));
      tf.dispose([x, filter, ...(bias === undefined ? [] : [bias]), fused, reference]);
    }
    const x = normal([1, 6, 6, 1]);
    const filter = normal([3, 3, 1, 4]);
    const bias = normal([4]);
    const onWasm = await conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad: 'same' }).data();
    await tf.setBackend('cpu');
    try {
      const cpuX = tf.tensor(await x.data(), x.shape);
      const cpuF = tf.tensor(await filter.data(), filter.shape);
      const cpuB = tf.tensor(await bias.data(), bias.shape);
      const onCpu = conv2dReluPool({ x: cpuX as tf.Tensor4D, filter: cpuF as tf.Tensor4D, bias: cpuB, pad: 'same' });
      const data = await onCpu.data();
      Array.from(data).forEach((v, i) => expect(v).toBeCloseTo(onWasm[i] as number, 5));
      tf.dispose([cpuX, cpuF, cpuB, onCpu]);
    } finally {
      await tf.setBackend('wasm');
    }
    tf.dispose([x, filter, bias]);
  });

  it("hands the backward kernel the pool's winners its forward recorded under a gradient tape, and records none in inference", async () => {
    const native = loadNative();
    const [forward, backward] = [native.convReluPool!, native.convReluPoolGrad!];
    const masks: { forward: (Uint8Array | null | undefined)[]; backward: (Uint8Array | null | undefined)[] } = { forward: [], backward: [] };
    native.convReluPool = (g, x, f, b, p, mask) => (masks.forward.push(mask), forward(g, x, f, b, p, mask));
    native.convReluPoolGrad = (g, x, f, b, dp, df, db, dz, mask) => (masks.backward.push(mask), backward(g, x, f, b, dp, df, db, dz, mask));
    try {
      const x = normal([2, 8, 8, 1]);
      const filter = normal([3, 3, 1, 16], 0.4);
      const bias = normal([16], 0.1);
      tf.dispose(conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad: 'same' }));
      expect(masks.forward).toEqual([null]);
      tf.dispose(tf.grads((f: tf.Tensor) => tf.sum(conv2dReluPool({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, bias, pad: 'same' })))([filter]));
      expect(masks.forward[1]).toBeInstanceOf(Uint8Array);
      expect(masks.backward).toHaveLength(1);
      expect(masks.backward[0]).toBe(masks.forward[1]);
      tf.dispose([x, filter, bias]);
    } finally {
      native.convReluPool = forward;
      native.convReluPoolGrad = backward;
    }
  });

  it("writes the next step's winners into the array the last backward read, with the gradients of computing the rows again", async () => {
    const native = loadNative();
    const forward = native.convReluPool!;
    const given: (Uint8Array | null | undefined)[] = [];
    let withhold = false;
    // withhold: the forward gets no array, so the backward computes the rows again (the reference).
    native.convReluPool = (g, x, f, b, p, mask) => (given.push(mask), forward(g, x, f, b, p, withhold ? null : mask));
    try {
      const filter = normal([3, 3, 1, 16], 0.4);
      const bias = normal([16], 0.1);
      const gradients = (x: tf.Tensor) => tf.grads((a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv2dReluPool({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, pad: 'same' }))))([x, filter, bias]);
      const [x1, x2] = [normal([2, 8, 8, 1]), normal([2, 8, 8, 1], 1, 0.5)];
      await expectNoLeak(async () => {
        tf.dispose(gradients(x1));
        const reused = gradients(x2);
        expect(given).toHaveLength(2);
        expect(given[1]).toBe(given[0]);
        withhold = true;
        const recomputed = gradients(x2);
        for (const [i, name] of ['x', 'filter', 'bias'].entries()) {
          expect(Array.from(await reused[i]!.data()), name).toEqual(Array.from(await recomputed[i]!.data()));
        }
        tf.dispose([...reused, ...recomputed]);
      });
      tf.dispose([x1, x2, filter, bias]);
    } finally {
      native.convReluPool = forward;
    }
  });

  it('names the argument, the value and what was expected for bad input', () => {
    const x = tf.zeros([1, 6, 6, 2]) as tf.Tensor4D;
    const filter = tf.zeros([3, 3, 1, 4]) as tf.Tensor4D;
    expect(() => conv2dReluPool({ x, filter, pad: 'same' })).toThrow("conv2dReluPool: x's channels (x.shape[3] = 2) must equal filter's input channels (filter.shape[2] = 1)");
    const f2 = tf.zeros([3, 3, 2, 4]) as tf.Tensor4D;
    expect(() => conv2dReluPool({ x, filter: f2, pad: 'full' as 'same' })).toThrow("conv2dReluPool: pad must be 'same' or 'valid' (received full)");
    expect(() => conv2dReluPool({ x, filter: f2, bias: tf.zeros([3]), pad: 'same' })).toThrow('conv2dReluPool: bias must be [4] (filter\'s output channels; received [3])');
    const small = tf.zeros([1, 3, 3, 2]) as tf.Tensor4D;
    expect(() => conv2dReluPool({ x: small, filter: f2, pad: 'valid' })).toThrow("conv2dReluPool: the convolution's output (1×1) must be at least 2×2 for the 2×2 pool");
    tf.dispose([x, filter, f2, small]);
  });
});

describe('conv2dReluPool: the blocked path (3×3 over 32 or more channels: Winograd, the activation in nChw16c)', () => {
  const native = loadNative();
  // oneDNN's Winograd kernels need AVX-512; elsewhere the op runs the separate kernels.
  const avx512 = native.info().cpuIsa.startsWith('avx512');

  it.each([
    ['W1 second block: 32 → 64 channels, 14×14 same', [4, 14, 14, 32], [3, 3, 32, 64], 'same'],
    ['32 → 32 channels, 3×3 valid on 9×11 (odd output 7×9: a row and a column no window covers)', [2, 9, 11, 32], [3, 3, 32, 32], 'valid'],
  ] as const)(`%s: the separate kernels' values and gradients to Winograd's rounding, through the blocked kernels where the CPU has AVX-512 (this CPU: ${native.info().cpuIsa})`, async (_name, xShape, fShape, pad) => {
    const x = normal([...xShape], 1, 0.1);
    const filter = normal([...fShape], 0.1);
    const bias = normal([fShape[3]], 0.2, -0.1);
    const pooled = separate(x, filter, bias, pad);
    const c = normal(pooled.shape);
    // Winograd's transforms round more than the direct sums (largest error against float64 about 1.5× the direct
    // one's); the pool's winners and the gradients' routes are the same for these values.
    const tolerance = avx512 ? 2e-5 : 1e-6;
    await expectNoLeak(async () => {
      const y = conv2dReluPool({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, pad });
      expect(y.shape).toEqual(pooled.shape);
      expect(await relativeError(y, pooled)).toBeLessThan(tolerance);
      y.dispose();
      const loss = (block: (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(block(a, f, b), c));
      const fused = tf.grads(loss((a, f, b) => conv2dReluPool({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, pad })))([x, filter, bias]);
      const reference = tf.grads(loss((a, f, b) => separate(a, f, b, pad)))([x, filter, bias]);
      for (const [i, name] of ['x', 'filter', 'bias'].entries()) expect(await relativeError(fused[i]!, reference[i]!), name).toBeLessThan(tolerance);
      tf.dispose([...fused, ...reference]);
    });
    const kernels = await kernelsOf(() => tf.grads((a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(conv2dReluPool({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, pad })))([x, filter, bias]));
    const blocked = [BLOCKED_CONV_KERNEL, BLOCKED_RELU_POOL_KERNEL, BLOCKED_RELU_POOL_GRAD_KERNEL, BLOCKED_CONV_BACKPROP_INPUT_KERNEL, BLOCKED_CONV_BACKPROP_FILTER_KERNEL];
    if (avx512) {
      // One kernel per pass; no NHWC activation, pool or convolution gradient of the separate path; the bias gradient
      // comes with the pool's (no Sum).
      expect(kernels.filter((k) => blocked.includes(k)).sort()).toEqual([...blocked].sort());
      for (const absent of ['FusedConv2D', 'MaxPool', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', CONV_RELU_POOL_KERNEL]) expect(kernels).not.toContain(absent);
      expect(kernels.filter((k) => k === 'Sum')).toHaveLength(1); // the loss's
    } else {
      for (const name of blocked) expect(kernels).not.toContain(name);
    }
    tf.dispose([x, filter, bias, pooled, c]);
  });

  it("keeps relu's NaN out of the pool and passes NaN into the gradients wherever the separate kernels do", async () => {
    const x = normal([1, 8, 8, 32]);
    const values = (await x.data()).slice();
    values[3 * 8 * 32 + 3 * 32 + 5] = Number.NaN;
    const xn = tf.tensor4d(values, [1, 8, 8, 32]);
    const filter = normal([3, 3, 32, 32], 0.1);
    const bias = normal([32], 0.1);
    const [a, b] = [await conv2dReluPool({ x: xn, filter: filter as tf.Tensor4D, bias, pad: 'same' }).data(), await separate(xn, filter, bias, 'same').data()];
    // No NaN comes out of the pool (it never wins); a window of only NaN gives −∞. Winograd's 4×4 output tiles mix
    // their 6×6 input tiles, so a NaN input reaches every output of its tiles: a superset of the direct kernels' 3×3.
    expect(Array.from(a).some(Number.isNaN)).toBe(false);
    const empty = (v: ArrayLike<number>) => Array.from(v).flatMap((value, i) => (value === Number.NEGATIVE_INFINITY ? [i] : []));
    expect(empty(b).length).toBeGreaterThan(0);
    expect(empty(a)).toEqual(expect.arrayContaining(empty(b)));
    const [dfilter, dbias] = tf.grads((f: tf.Tensor, c: tf.Tensor) => tf.sum(conv2dReluPool({ x: xn, filter: f as tf.Tensor4D, bias: c, pad: 'same' })))([filter, bias]);
    const [expectedFilter, expectedBias] = tf.grads((f: tf.Tensor, c: tf.Tensor) => tf.sum(separate(xn, f, c, 'same')))([filter, bias]);
    const nans = async (t: tf.Tensor) => Array.from(await t.data()).flatMap((value, i) => (Number.isNaN(value) ? [i] : []));
    expect((await nans(expectedFilter!)).length).toBeGreaterThan(0);
    expect(await nans(dfilter!)).toEqual(expect.arrayContaining(await nans(expectedFilter!)));
    expect(await nans(dbias!)).toEqual(expect.arrayContaining(await nans(expectedBias!)));
    tf.dispose([x, xn, filter, bias, dfilter!, dbias!, expectedFilter!, expectedBias!]);
  });

  it('gives the blocked convolution the gradients of its definition for any blocked dy (the bias: the sum per channel)', async () => {
    const x = normal([2, 6, 6, 32]);
    const filter = normal([3, 3, 32, 32], 0.1);
    const bias = normal([32]);
    const run = (a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.engine().runKernel(BLOCKED_CONV_KERNEL, { x: a, filter: f, bias: b }, { pad: 'same' } as unknown as tf.NamedAttrMap) as tf.Tensor;
    if (!avx512) {
      expect(() => run(x, filter, bias)).toThrow('the blocked kernels do not take the convolution of x [2,6,6,32] by filter [3,3,32,32]');
      tf.dispose([x, filter, bias]);
      return;
    }
    // y in nChw16c: [n, oc/16, h, w, 16]; a weight c on every element, read back to NHWC for the reference.
    const c = normal([2, 2, 6, 6, 16]);
    const cNhwc = tf.reshape(tf.transpose(c, [0, 2, 3, 1, 4]), [2, 6, 6, 32]);
    const y = run(x, filter, bias);
    const reference = tf.add(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same'), bias);
    expect(await relativeError(tf.reshape(tf.transpose(y, [0, 2, 3, 1, 4]), [2, 6, 6, 32]), reference)).toBeLessThan(2e-5);
    const grads = tf.grads((a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(run(a, f, b), c)))([x, filter, bias]);
    const expected = tf.grads((a: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), b), cNhwc)))([x, filter, bias]);
    for (const [i, name] of ['x', 'filter', 'bias'].entries()) expect(await relativeError(grads[i]!, expected[i]!), name).toBeLessThan(2e-5);
    tf.dispose([x, filter, bias, c, cNhwc, y, reference, ...grads, ...expected]);
  });

  it("runs the separate kernels under convAlgorithm 'direct', below 32 channels and without a bias: their values bit for bit", async () => {
    const x = normal([2, 8, 8, 32]);
    const filter = normal([3, 3, 32, 32], 0.1);
    const bias = normal([32]);
    const x16 = normal([2, 8, 8, 16]);
    const f16 = normal([3, 3, 16, 32], 0.1);
    const cases: [tf.Tensor, tf.Tensor, tf.Tensor | undefined, 'auto' | 'direct'][] = [
      [x, filter, bias, 'direct'],
      [x16, f16, bias, 'auto'],
      [x, filter, undefined, 'auto'],
    ];
    for (const [input, weights, b, algorithm] of cases) {
      native.setConvAlgorithm!(algorithm);
      try {
        const run = () => conv2dReluPool({ x: input as tf.Tensor4D, filter: weights as tf.Tensor4D, bias: b, pad: 'same' });
        expect(await kernelsOf(run)).not.toContain(BLOCKED_CONV_KERNEL);
        const [fused, reference] = [run(), tf.maxPool(fusedConv2d({ x: input as tf.Tensor4D, filter: weights as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'relu' }) as tf.Tensor4D, 2, 2, 'valid')];
        expect(Array.from(await fused.data())).toEqual(Array.from(await reference.data()));
        tf.dispose([fused, reference]);
      } finally {
        native.setConvAlgorithm!('auto');
      }
    }
    tf.dispose([x, filter, bias, x16, f16]);
  });
});

describe('conv2dPoolLayer', () => {
  it('is conv2d(relu) then maxPooling2d(2) in one layer, trains, and saves and loads as ConvkitConv2DReluPool', async () => {
    const model = tf.sequential({
      layers: [
        conv2dPoolLayer({ inputShape: [12, 12, 1], filters: 16, kernelSize: 3, padding: 'same' }),
        conv2dPoolLayer({ filters: 32, kernelSize: 3, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3 }),
      ],
    });
    expect(model.layers.map((l) => l.getClassName())).toEqual(['ConvkitConv2DReluPool', 'ConvkitConv2DReluPool', 'Flatten', 'Dense']);
    expect(model.layers[0]!.outputShape).toEqual([null, 6, 6, 16]);
    expect(model.layers[1]!.outputShape).toEqual([null, 2, 2, 32]);
    const x = normal([4, 12, 12, 1]);
    // The layer's output: the op with its weights.
    const [kernel, bias] = model.layers[0]!.getWeights();
    const first = model.layers[0]!.apply(x) as tf.Tensor;
    const expected = conv2dReluPool({ x: x as tf.Tensor4D, filter: kernel as tf.Tensor4D, bias, pad: 'same' });
    expect(Array.from(await first.data())).toEqual(Array.from(await expected.data()));
    // A training step moves every weight.
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const before = await Promise.all(model.getWeights().map(async (w) => (await w.data()).slice()));
    await model.fit(x, normal([4, 3]), { epochs: 1, verbose: 0 });
    const after = await Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
    after.forEach((values, i) => expect(values).not.toEqual(Array.from(before[i]!)));
    // Save and load.
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.layers[0]).toBeInstanceOf(Conv2DReluPool);
    const [p1, p2] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(await p2.data())).toEqual(Array.from(await p1.data()));
    tf.dispose([x, first, expected, p1, p2]); // kernel and bias are the layer's own variables
    model.dispose();
    loaded.dispose();
  });

  it('trains through model.fit with a second block of 32 → 32 channels as the separate kernels do (the blocked path where the CPU has AVX-512), and predicts the same after save and load', async () => {
    const native = loadNative();
    const seeded = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: seed + 100 }) });
    const build = () =>
      tf.sequential({
        layers: [
          conv2dPoolLayer({ inputShape: [16, 16, 1], filters: 32, kernelSize: 3, padding: 'same', ...seeded(1) }),
          conv2dPoolLayer({ filters: 32, kernelSize: 3, padding: 'same', ...seeded(2) }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, activation: 'softmax', ...seeded(3) }),
        ],
      });
    const x = normal([8, 16, 16, 1]);
    // Two classes the model can learn: the sign of the images' mean.
    const labels = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(x, [1, 2, 3]), 0), 'int32'), 2));
    const train = async (algorithm: 'auto' | 'direct') => {
      native.setConvAlgorithm!(algorithm);
      try {
        const model = build();
        const kernels = await kernelsOf(() => tf.grads((a: tf.Tensor) => tf.sum(model.apply(a) as tf.Tensor))([x]));
        model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
        const history = await model.fit(x, labels, { epochs: 8, batchSize: 8, verbose: 0, shuffle: false });
        return { model, kernels, losses: history.history['loss'] as number[] };
      } finally {
        native.setConvAlgorithm!('auto');
      }
    };
    const blocked = await train('auto');
    const separate = await train('direct');
    expect(separate.kernels).not.toContain(BLOCKED_CONV_KERNEL);
    if (native.info().cpuIsa.startsWith('avx512')) expect(blocked.kernels).toContain(BLOCKED_CONV_KERNEL);
    else expect(blocked.kernels).not.toContain(BLOCKED_CONV_KERNEL);
    // The same losses step by step to Winograd's rounding, and falling.
    blocked.losses.forEach((loss, i) => expect(Math.abs(loss - separate.losses[i]!), `epoch ${i}`).toBeLessThan(1e-3 * separate.losses[i]!));
    expect(blocked.losses[blocked.losses.length - 1]!).toBeLessThan(blocked.losses[0]! * 0.6);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await blocked.model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    const [p1, p2] = [blocked.model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(await p2.data())).toEqual(Array.from(await p1.data()));
    tf.dispose([x, labels, p1, p2]);
    for (const model of [blocked.model, separate.model, loaded]) model.dispose();
  });

  it('refuses what it cannot be, naming the argument', () => {
    expect(() => conv2dPoolLayer({ filters: 4, kernelSize: 3, activation: 'tanh' as 'relu' })).toThrow("conv2dPoolLayer: activation must be 'relu' (received 'tanh')");
    expect(() => conv2dPoolLayer({ filters: 4, kernelSize: 3, strides: 2 } as never)).toThrow('conv2dPoolLayer: strides must be 1 (received 2)');
    expect(() => conv2dPoolLayer({ filters: 4, kernelSize: 3, dilationRate: [2, 2] } as never)).toThrow('conv2dPoolLayer: dilationRate must be 1 (received [2,2])');
    expect(() => conv2dPoolLayer({ filters: 4, kernelSize: 3, padding: 'causal' as 'same' })).toThrow("conv2dPoolLayer: padding must be 'same' or 'valid' (received 'causal')");
  });
});
