import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';
import { createRng } from './rng.js';
import { expectNoLeak, relativeError, withBackend } from './testing.js';
import { withKernelProviders } from './kernel-registry.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import { installCpuKernels } from './cpu-kernels.js';
import {
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
  softmaxCrossEntropyFromLogits,
} from './softmax-cross-entropy.js';

// References: the loss and its gradients from their formulas in float64 (loss = mean_i Σ_j y_ij (lse_i − x_ij);
// d/dx = (softmax · Σ_k y_ik − y) / rows; d/dy = (lse − x) / rows), and tfjs's composition of ops.
const rng = createRng(57);

beforeAll(async () => {
  installCpuKernels();
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
});

interface Case {
  name: string;
  rows: number;
  classes: number;
  labels: (x: Float32Array) => {
    values: Float32Array | Int32Array;
    dense: Float64Array;
  };
}

/** One-hot rows (class i·7 mod classes), soft labels (random, not summing to 1), class indices. */
const CASES: Case[] = [
  {
    name: 'one-hot labels, batch 64 × 10 classes',
    rows: 64,
    classes: 10,
    labels: () => {
      const dense = new Float64Array(640);
      for (let i = 0; i < 64; i++) dense[i * 10 + ((i * 7) % 10)] = 1;
      return { values: Float32Array.from(dense), dense };
    },
  },
  {
    name: 'soft labels (rows not summing to 1), 5 × 7',
    rows: 5,
    classes: 7,
    labels: () => {
      const values = Float32Array.from({ length: 35 }, () => rng.uniform(0, 0.4));
      return { values, dense: Float64Array.from(values) };
    },
  },
  {
    name: 'int32 class indices, 3 × 2 rows of 4 classes',
    rows: 6,
    classes: 4,
    labels: () => {
      const values = Int32Array.from([3, 0, 1, 2, 2, 0]);
      const dense = new Float64Array(24);
      values.forEach((k, i) => (dense[i * 4 + k] = 1));
      return { values, dense };
    },
  },
];

/** The float64 reference of the loss, the logits' gradient and the labels' gradient (for a given dy). */
function reference(x: Float32Array, y: Float64Array, rows: number, classes: number, dy: number) {
  let loss = 0;
  const dx = new Float64Array(x.length);
  const dlabels = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    const row = Array.from(x.subarray(i * classes, (i + 1) * classes));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    let mass = 0;
    for (let j = 0; j < classes; j++) mass += y[i * classes + j] as number;
    for (let j = 0; j < classes; j++) {
      const k = i * classes + j;
      loss += (y[k] as number) * (lse - (row[j] as number));
      dx[k] = (dy * (Math.exp((row[j] as number) - lse) * mass - (y[k] as number))) / rows;
      dlabels[k] = (dy * (lse - (row[j] as number))) / rows;
    }
  }
  return { loss: loss / rows, dx, dlabels };
}

async function lossAndGradients(labels: tf.Tensor, logits: tf.Tensor, dy: number, withLabels: boolean) {
  return expectNoLeak(async () => {
    const wrt = withLabels ? [logits, labels] : [logits];
    const f = (...args: tf.Tensor[]): tf.Scalar =>
      tf.mul(softmaxCrossEntropyFromLogits(withLabels ? args[1]! : labels, args[0]!), dy) as tf.Scalar;
    const { value, grads } = tf.valueAndGrads(f)(wrt);
    const out = {
      loss: ((await value.data())[0] as number) / dy,
      dx: await grads[0]!.data(),
      dlabels: withLabels ? await grads[1]!.data() : undefined,
    };
    tf.dispose([value, ...grads]);
    return out;
  });
}

describe('softmaxCrossEntropyFromLogits', () => {
  describe.each(['wasm', 'cpu'])('on %s (one kernel each way)', (backend) => {
    it.each(CASES)('$name: loss and gradients equal the float64 formulas', async ({ rows, classes, labels: make }) => {
      await withBackend(backend, async () => {
        const x = Float32Array.from({ length: rows * classes }, () => rng.normal() * 3);
        const { values, dense } = make(x);
        const logits = tf.tensor2d(x, [rows, classes]);
        const labels =
          values instanceof Int32Array ? tf.tensor1d(values, 'int32') : tf.tensor2d(values, [rows, classes]);
        const dy = 1.75;
        const soft = !(values instanceof Int32Array);
        const got = await lossAndGradients(labels, logits, dy, soft);
        const ref = reference(x, dense, rows, classes, dy);
        expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(2e-7);
        expect(relativeError(ref.dx, got.dx)).toBeLessThan(2e-7);
        if (soft) expect(relativeError(ref.dlabels, got.dlabels!)).toBeLessThan(1e-6);
        tf.dispose([logits, labels]);
      });
    });

    it("runs one forward and one backward kernel, where tfjs's composition runs dozens", async () => {
      await withBackend(backend, async () => {
        const logits = tf.randomNormal([8, 5]);
        const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), 5).toFloat();
        const names = async (loss: (l: tf.Tensor, x: tf.Tensor) => tf.Scalar): Promise<string[]> => {
          const info = await tf.profile(() => {
            tf.grad((x: tf.Tensor) => loss(labels, x))(logits).dispose();
          });
          return info.kernels.map((k) => k.name).filter((name) => tf.getKernel(name, backend) !== undefined);
        };
        const fused = await names((l, x) => softmaxCrossEntropyFromLogits(l, x));
        const stock = await names((l, x) => tf.losses.softmaxCrossEntropy(l, x) as tf.Scalar);
        expect(fused.filter((n) => n === SOFTMAX_CROSS_ENTROPY_KERNEL)).toHaveLength(1);
        expect(fused.filter((n) => n === SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL)).toHaveLength(1);
        expect(fused).not.toContain('Exp');
        expect(stock.length - fused.length).toBeGreaterThan(15);
        tf.dispose([logits, labels]);
      });
    });

    it('gives NaN for a row of NaN or +∞ logits, and a finite loss with −∞ at another class than the label', async () => {
      await withBackend(backend, async () => {
        const loss = async (row: number[], label: number): Promise<number> => {
          const value = softmaxCrossEntropyFromLogits(tf.tensor1d([label], 'int32'), tf.tensor2d([row]));
          const out = (await value.data())[0] as number;
          value.dispose();
          return out;
        };
        expect(await loss([1, Number.NaN, 0], 0)).toBeNaN();
        expect(await loss([1, Number.POSITIVE_INFINITY, 0], 0)).toBeNaN();
        expect(await loss([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY], 0)).toBeNaN();
        expect(await loss([2, Number.NEGATIVE_INFINITY, 0], 0)).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
      });
    });
  });

  it("equals tfjs's softmaxCrossEntropy (float32 rounding) and falls back to it where the kernels are off", async () => {
    const x = tf.tensor2d(
      Float32Array.from({ length: 32 * 10 }, () => rng.normal() * 4),
      [32, 10],
    );
    const labels = tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: 32 }, (_, i) => (i * 3) % 10),
          'int32',
        ),
        10,
      )
      .toFloat();
    const stock = tf.losses.softmaxCrossEntropy(labels, x);
    const fused = softmaxCrossEntropyFromLogits(labels, x);
    const stockValue = (await stock.data())[0] as number;
    expect(Math.abs(((await fused.data())[0] as number) - stockValue) / stockValue).toBeLessThan(1e-6);
    await withKernelProviders({ only: [] }, async () => {
      expect(tf.getKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, 'wasm')).toBeUndefined();
      const fallback = softmaxCrossEntropyFromLogits(labels, x);
      const sparse = softmaxCrossEntropyFromLogits(
        tf.tensor1d(
          Array.from({ length: 32 }, (_, i) => (i * 3) % 10),
          'int32',
        ),
        x,
      );
      expect(Math.abs(((await fallback.data())[0] as number) - stockValue) / stockValue).toBeLessThan(1e-6);
      expect(Math.abs(((await sparse.data())[0] as number) - stockValue) / stockValue).toBeLessThan(1e-6);
      tf.dispose([fallback, sparse]);
    });
    tf.dispose([x, labels, stock, fused]);
  });

  it('names the argument, the value and what was expected', () => {
    const logits = tf.zeros([2, 3]);
    tf.tidy(() => {
      expect(() => softmaxCrossEntropyFromLogits(tf.zeros([2, 4]), logits)).toThrow(
        "softmaxCrossEntropyFromLogits: labels must be float32 of the logits' shape [2, 3] or int32 class indices of shape [2] (received float32 [2, 4])",
      );
      expect(() => softmaxCrossEntropyFromLogits(tf.zeros([2], 'int32'), tf.zeros([2, 3], 'int32'))).toThrow(
        'softmaxCrossEntropyFromLogits: logits must be float32 (received int32)',
      );
      expect(() => softmaxCrossEntropyFromLogits(tf.tensor1d([1, 3], 'int32'), logits)).toThrow(
        'softmaxCrossEntropyFromLogits: labels[1] = 3 is not a class index in [0, 3)',
      );
      expect(() => softmaxCrossEntropyFromLogits(tf.tensor1d([-1, 0], 'int32'), logits)).toThrow(
        'labels[0] = -1 is not a class index in [0, 3)',
      );
      expect(() => softmaxCrossEntropyFromLogits(tf.zeros([0, 3]), tf.zeros([0, 3]))).toThrow(
        'softmaxCrossEntropyFromLogits: logits are empty (shape [0, 3])',
      );
    });
    logits.dispose();
  });
});
