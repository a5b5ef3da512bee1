import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import { clipGradientsByNorm, clipGradientsByValue, gradientClipping } from './gradient-clipping.js';

/** A zero variable, without leaking its initial value. */
const variable = (shape: number[]): tf.Variable => tf.tidy(() => tf.variable(tf.zeros(shape)));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** y = w·x with w = 1 and one batch x = [1, 2], y = 0: MSE loss 2.5, dL/dw = 5. */
function scalarFit(plugins: ReturnType<typeof gradientClipping>[]) {
  const w = tf.tidy(() => tf.variable(tf.ones([1, 1])));
  const optimizer = tf.train.sgd(0.1);
  const train: BatchSource = {
    length: 1,
    *[Symbol.iterator](): Iterator<Batch> {
      yield { x: tf.tensor2d([[1], [2]]), y: tf.tensor2d([[0], [0]]) };
    },
  };
  const learner = new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'meanSquaredError',
    optimizer,
    train,
    plugins,
  });
  return { w, learner, dispose: () => (w.dispose(), optimizer.dispose()) };
}

describe('clipGradientsByValue', () => {
  it('clamps every element to [-value, value] like clip_grad_value_', async () => {
    const values = await expectNoLeak(() => {
      const v = variable([3]);
      const gradient = tf.tensor([3, -0.5, -2]);
      const [clipped] = clipGradientsByValue([{ variable: v, gradient }], 1);
      const out = Array.from(clipped!.gradient.dataSync());
      expect(clipped!.variable).toBe(v);
      tf.dispose([v, gradient, clipped!.gradient]);
      return out;
    });
    expect(values).toEqual([1, -0.5, -1]);
  });

  it('rejects a non-positive value, naming it', () => {
    expect(() => clipGradientsByValue([], 0)).toThrow('value must be a positive finite number (received 0)');
  });
});

describe('clipGradientsByNorm', () => {
  it('scales by maxNorm / (total + 1e-6) when the global 2-norm is larger (clip_grad_norm_)', async () => {
    const result = await expectNoLeak(() => {
      const a = variable([2]);
      const b = variable([1]);
      const ga = tf.tensor([3, 4]);
      const gb = tf.tensor([12]);
      const { grads, totalNorm } = clipGradientsByNorm([{ variable: a, gradient: ga }, { variable: b, gradient: gb }], 6.5);
      const out = { a: Array.from(grads[0]!.gradient.dataSync()), b: Array.from(grads[1]!.gradient.dataSync()), total: totalNorm.dataSync()[0] };
      tf.dispose([a, b, ga, gb, totalNorm, ...grads.map((g) => g.gradient)]);
      return out;
    });
    // norms 5 and 12: total sqrt(25 + 144) = 13; coefficient 6.5 / (13 + 1e-6)
    const coefficient = 6.5 / (13 + 1e-6);
    expect(result.total).toBeCloseTo(13, 5);
    expect(result.a[0]).toBeCloseTo(3 * coefficient, 6);
    expect(result.a[1]).toBeCloseTo(4 * coefficient, 6);
    expect(result.b[0]).toBeCloseTo(12 * coefficient, 5);
  });

  it('leaves gradients unchanged when the norm is already below maxNorm (coefficient clamped to 1)', async () => {
    const values = await expectNoLeak(() => {
      const a = variable([2]);
      const ga = tf.tensor([3, 4]);
      const { grads, totalNorm } = clipGradientsByNorm([{ variable: a, gradient: ga }], 20);
      const out = Array.from(grads[0]!.gradient.dataSync());
      tf.dispose([a, ga, totalNorm, grads[0]!.gradient]);
      return out;
    });
    expect(values).toEqual([3, 4]);
  });

  it('uses the largest absolute element for normType Infinity', async () => {
    const values = await expectNoLeak(() => {
      const a = variable([2]);
      const b = variable([1]);
      const ga = tf.tensor([3, -4]);
      const gb = tf.tensor([-12]);
      const { grads, totalNorm } = clipGradientsByNorm([{ variable: a, gradient: ga }, { variable: b, gradient: gb }], 6, Infinity);
      const out = [...grads[0]!.gradient.dataSync(), ...grads[1]!.gradient.dataSync(), totalNorm.dataSync()[0]!];
      tf.dispose([a, b, ga, gb, totalNorm, ...grads.map((g) => g.gradient)]);
      return out;
    });
    const coefficient = 6 / (12 + 1e-6);
    expect(values[0]).toBeCloseTo(3 * coefficient, 6);
    expect(values[1]).toBeCloseTo(-4 * coefficient, 6);
    expect(values[2]).toBeCloseTo(-12 * coefficient, 5);
    expect(values[3]).toBe(12);
  });

  it('rejects an unsupported normType', () => {
    expect(() => clipGradientsByNorm([], 1, 1)).toThrow('normType must be 2 or Infinity (received 1)');
  });
});

describe('gradientClipping', () => {
  it('clips by norm inside a fit: w = 1 − 0.1 · 5 · 1 / (5 + 1e-6)', async () => {
    const run = scalarFit([gradientClipping({ norm: 1 })]);
    const w = await expectNoLeak(async () => {
      await run.learner.fit(1);
      return run.w.dataSync()[0]!;
    });
    run.dispose();
    expect(w).toBeCloseTo(1 - (0.1 * 5) / (5 + 1e-6), 6);
  });

  it('clips by value inside a fit: w = 1 − 0.1 · 2', async () => {
    const run = scalarFit([gradientClipping({ value: 2 })]);
    await expectNoLeak(() => run.learner.fit(1));
    expect(run.w.dataSync()[0]).toBeCloseTo(0.8, 6);
    run.dispose();
  });

  it('needs exactly one of value or norm', () => {
    expect(() => gradientClipping({} as never)).toThrow('options must have exactly one of value or norm (received {})');
    expect(() => gradientClipping({ value: 1, norm: 1 } as never)).toThrow('exactly one of value or norm');
    expect(() => gradientClipping({ norm: -1 })).toThrow('norm must be a positive finite number (received -1)');
  });
});
