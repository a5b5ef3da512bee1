import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { SOFTMAX_CROSS_ENTROPY_KERNEL, installCpuKernels, removeKernelProvider } from '@convkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveLoss } from './losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const value = (t: tf.Tensor): number => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('resolveLoss', () => {
  it('softmaxCrossEntropy matches −mean log softmax of the true class, for index and one-hot labels', async () => {
    await expectNoLeak(() => {
      const logits = tf.tensor2d([
        [2, 0, -1],
        [0.5, 0.5, 3],
      ]);
      const reference = (row: number[], k: number) => -(row[k]! - Math.log(row.reduce((s, v) => s + Math.exp(v), 0)));
      const expected = (reference([2, 0, -1], 0) + reference([0.5, 0.5, 3], 2)) / 2;
      const indices = tf.tensor1d([0, 2], 'int32');
      const oneHot = tf.tensor2d([
        [1, 0, 0],
        [0, 0, 1],
      ]);
      const loss = resolveLoss('softmaxCrossEntropy');
      expect(value(loss(logits, indices))).toBeCloseTo(expected, 5);
      expect(value(loss(logits, oneHot))).toBeCloseTo(expected, 5);
      const wrong = tf.tensor1d([0, 1, 2], 'int32');
      expect(() => loss(logits, wrong)).toThrow(
        "labels must be one-hot with the predictions' shape [2, 3] or class indices of shape [2] (received shape [3])"
      );
      tf.dispose([logits, indices, oneHot, wrong]);
    });
  });

  it("softmaxCrossEntropy runs @convkit/core's one-kernel loss where it is installed, and refuses a class index out of range", async () => {
    installCpuKernels();
    try {
      await expectNoLeak(async () => {
        const logits = tf.tensor2d([
          [2, 0, -1],
          [0.5, 0.5, 3],
        ]);
        const loss = resolveLoss('softmaxCrossEntropy');
        const indices = tf.tensor1d([0, 2], 'float32'); // float class indices are cast, as before
        const expected = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3), logits));
        expect(value(loss(logits, indices))).toBeCloseTo(value(expected), 6);
        const profile = await tf.profile(() => loss(logits, indices).dispose());
        expect(profile.kernels.map((k) => k.name)).toContain(SOFTMAX_CROSS_ENTROPY_KERNEL);
        expect(profile.kernels.map((k) => k.name)).not.toContain('Exp');
        const outOfRange = tf.tensor1d([0, 3], 'int32');
        expect(() => loss(logits, outOfRange)).toThrow('softmaxCrossEntropyFromLogits: labels[1] = 3 is not a class index in [0, 3)');
        tf.dispose([logits, indices, outOfRange]);
      });
    } finally {
      removeKernelProvider('cpu-fixes', 'cpu');
    }
  });

  it('categoricalCrossEntropy takes probabilities', async () => {
    await expectNoLeak(() => {
      const probabilities = tf.tensor2d([
        [0.7, 0.3],
        [0.2, 0.8],
      ]);
      const labels = tf.tensor1d([0, 0], 'int32');
      expect(value(resolveLoss('categoricalCrossEntropy')(probabilities, labels))).toBeCloseTo(
        -(Math.log(0.7) + Math.log(0.2)) / 2,
        5
      );
      tf.dispose([probabilities, labels]);
    });
  });

  it('meanSquaredError and meanAbsoluteError, reshaping same-size targets', async () => {
    await expectNoLeak(() => {
      const pred = tf.tensor2d([[1], [2], [4]]);
      const y = tf.tensor1d([1, 4, 1]);
      expect(value(resolveLoss('meanSquaredError')(pred, y))).toBeCloseTo((0 + 4 + 9) / 3, 6);
      expect(value(resolveLoss('meanAbsoluteError')(pred, y))).toBeCloseTo((0 + 2 + 3) / 3, 6);
      tf.dispose([pred, y]);
    });
  });

  it('passes functions through and rejects unknown names', () => {
    const custom = (p: tf.Tensor): tf.Scalar => tf.sum(p);
    expect(resolveLoss(custom)).toBe(custom);
    expect(() => resolveLoss('hinge' as never)).toThrow('(received "hinge")');
  });
});
