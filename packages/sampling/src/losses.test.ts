import * as tf from '@tensorflow/tfjs';
import { availableBackends, expectNoLeak } from '@convkit/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { focalLoss } from './focal-loss.js';
import { maskWeightedMse } from './mask-weighted-mse.js';
import { weightedSoftmaxCrossEntropy } from './weighted-cross-entropy.js';
import type { SamplingLoss } from './weighted-cross-entropy.js';


const LN2 = Math.log(2);

/** Value of `loss(pred, y)` for plain arrays; disposes everything. */
async function lossValue(loss: SamplingLoss, pred: number[], predShape: number[], y: tf.Tensor): Promise<number> {
  return scalar(() => loss(tf.tensor(pred, predShape), y));
}

/** The first value of the tensor `make()` builds (inside `tf.tidy`), read asynchronously; disposes it. */
async function scalar(make: () => tf.Tensor): Promise<number> {
  return (await values(make))[0]!;
}

/** The values of the tensor `make()` builds (inside `tf.tidy`), read asynchronously; disposes it. */
async function values(make: () => tf.Tensor): Promise<number[]> {
  const tensor = tf.tidy(make);
  try {
    return Array.from(await tensor.data());
  } finally {
    tensor.dispose();
  }
}

/** Compares tf's gradient of the loss with central finite differences (float32, step 1e-2). */
async function expectGradientMatchesFiniteDifferences(loss: SamplingLoss, pred: number[], shape: number[], y: tf.Tensor): Promise<void> {
  await expectNoLeak(async () => {
    const analytic = await values(() => tf.grad((p: tf.Tensor) => loss(p, y))(tf.tensor(pred, shape)));
    const step = 1e-2;
    for (let i = 0; i < pred.length; i++) {
      const plus = pred.slice();
      const minus = pred.slice();
      plus[i]! += step;
      minus[i]! -= step;
      const numeric = ((await lossValue(loss, plus, shape, y)) - (await lossValue(loss, minus, shape, y))) / (2 * step);
      expect(analytic[i]).toBeCloseTo(numeric, 3);
    }
  });
}

describe.each(availableBackends())('losses on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  describe('weightedSoftmaxCrossEntropy', () => {
    it('is the class-weighted mean of the cross-entropies (hand-computed)', async () => {
      // Sample 0: logits [0, 0], class 0 → ℓ = ln 2. Sample 1: logits [ln 3, 0], class 1 → p = 1/4, ℓ = ln 4.
      // Weights [1, 3]: (1 · ln 2 + 3 · ln 4) / (1 + 3) = 7/4 ln 2.
      await expectNoLeak(async () => {
        const loss = weightedSoftmaxCrossEntropy({ classWeights: [1, 3] });
        const indices = tf.tensor1d([0, 1], 'int32');
        const oneHot = tf.tensor2d([[1, 0], [0, 1]]);
        expect(await lossValue(loss, [0, 0, Math.log(3), 0], [2, 2], indices)).toBeCloseTo((7 / 4) * LN2, 5);
        expect(await lossValue(loss, [0, 0, Math.log(3), 0], [2, 2], oneHot)).toBeCloseTo((7 / 4) * LN2, 5);
        const zeroWeighted = weightedSoftmaxCrossEntropy({ classWeights: [0, 1] });
        const classZero = tf.tensor1d([0, 0], 'int32');
        expect(await lossValue(zeroWeighted, [0, 0, 1, 0], [2, 2], classZero)).toBe(0); // every sample weighs 0
        classZero.dispose();
        tf.dispose([indices, oneHot]);
      });
    });

    it('equals plain softmax cross-entropy with equal weights, at any weight scale', async () => {
      await expectNoLeak(async () => {
        const logits = tf.tensor2d([[1, -2, 0.5], [0.3, 0.1, 2], [-1, 1, 0]]);
        const y = tf.tensor2d([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
        const reference = await scalar(() => tf.losses.softmaxCrossEntropy(y, logits));
        const weighted = await scalar(() => weightedSoftmaxCrossEntropy({ classWeights: [5, 5, 5] })(logits, y));
        expect(weighted).toBeCloseTo(reference, 5);
        tf.dispose([logits, y]);
      });
    });

    it('has the finite-difference gradient', async () => {
      const y = tf.tensor1d([2, 0, 1], 'int32');
      await expectGradientMatchesFiniteDifferences(
        weightedSoftmaxCrossEntropy({ classWeights: [0.5, 1, 3] }),
        [0.2, -0.4, 1.1, 0.7, 0.3, -0.9, -0.5, 0.8, 0.1],
        [3, 3],
        y
      );
      y.dispose();
    });

    it('refuses negative or all-zero weights and a class-count mismatch', async () => {
      expect(() => weightedSoftmaxCrossEntropy({ classWeights: [1, -1] })).toThrow('classWeights[1] must be a finite number >= 0 (received -1)');
      expect(() => weightedSoftmaxCrossEntropy({ classWeights: [0, 0] })).toThrow('classWeights must not be all zero (received [0, 0])');
      await expectNoLeak(async () => {
        const pred = tf.zeros([2, 3]);
        const y = tf.tensor1d([0, 1], 'int32');
        expect(() => weightedSoftmaxCrossEntropy({ classWeights: [1, 2] })(pred, y)).toThrow(
          'pred has 3 classes in its last dimension but the class weights have 2 entries'
        );
        tf.dispose([pred, y]);
      });
    });
  });

  describe('focalLoss', () => {
    it("matches Lin et al.'s binary formula on hand-computed values", async () => {
      // z = 0, y = 1: p_t = 0.5, α_t = 0.25 → 0.25 · 0.5² · ln 2 = 0.0433217
      // z = ln 3, y = 0: p = 0.75, p_t = 0.25, α_t = 0.75 → 0.75 · 0.75² · ln 4 = 0.5848429
      await expectNoLeak(async () => {
        const y = tf.tensor2d([[1], [0]]);
        const value = await lossValue(focalLoss({ gamma: 2, alpha: 0.25 }), [0, Math.log(3)], [2, 1], y);
        expect(value).toBeCloseTo((0.25 * 0.25 * LN2 + 0.75 * 0.5625 * 2 * LN2) / 2, 5);
        const probabilities = await scalar(() => focalLoss({ alpha: 0.25, from: 'probabilities' })(tf.tensor2d([[0.5], [0.75]]), y));
        expect(probabilities).toBeCloseTo(value, 5);
        y.dispose();
      });
    });

    it('matches the multi-class formula with per-class alpha on hand-computed values', async () => {
      // logits [ln 3, 0, 0] → p = [0.6, 0.2, 0.2]; class 0: α 2 · 0.4² · −ln 0.6 = 0.1634644
      // logits [0, 0, 0], class 2: α 1 · (2/3)² · ln 3 = 0.4882813
      await expectNoLeak(async () => {
        const y = tf.tensor1d([0, 2], 'int32');
        const value = await lossValue(focalLoss({ gamma: 2, alpha: [2, 1, 1] }), [Math.log(3), 0, 0, 0, 0, 0], [2, 3], y);
        expect(value).toBeCloseTo((2 * 0.16 * -Math.log(0.6) + (4 / 9) * Math.log(3)) / 2, 5);
        y.dispose();
      });
    });

    it('is cross-entropy at gamma 0, and smaller for well-classified samples as gamma grows', async () => {
      await expectNoLeak(async () => {
        const logits = tf.tensor2d([[3, 0, -1], [0.2, 0.1, 0]]);
        const y = tf.tensor2d([[1, 0, 0], [0, 0, 1]]);
        const reference = await scalar(() => tf.losses.softmaxCrossEntropy(y, logits));
        const values = await Promise.all([0, 1, 2, 5].map((gamma) => scalar(() => focalLoss({ gamma })(logits, y))));
        expect(values[0]).toBeCloseTo(reference, 5);
        for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]!);
        tf.dispose([logits, y]);
      });
    });

    it('has the finite-difference gradient (softmax and sigmoid forms)', async () => {
      const indices = tf.tensor1d([1, 0], 'int32');
      await expectGradientMatchesFiniteDifferences(focalLoss({ gamma: 2, alpha: [0.3, 0.7] }), [0.4, -0.2, -1, 0.5], [2, 2], indices);
      const binary = tf.tensor1d([1, 0, 1]);
      await expectGradientMatchesFiniteDifferences(focalLoss({ gamma: 1.5, alpha: 0.25 }), [0.3, -0.6, 1.2], [3, 1], binary);
      tf.dispose([indices, binary]);
    });

    it('refuses gamma < 0 and an alpha that does not fit, naming the value', async () => {
      expect(() => focalLoss({ gamma: -1 })).toThrow('gamma must be a finite number >= 0 (received -1)');
      expect(() => focalLoss({ alpha: 1.5 })).toThrow('alpha must be a number in [0, 1] or one weight per class (received 1.5)');
      expect(() => focalLoss({ alpha: [1, -1] })).toThrow('alpha[1] must be a finite number >= 0 (received -1)');
      await expectNoLeak(async () => {
        const pred = tf.zeros([2, 3]);
        const y = tf.tensor1d([0, 1], 'int32');
        expect(() => focalLoss({ alpha: 0.25 })(pred, y)).toThrow('alpha must be one weight per class for 3 (softmax) outputs (received 0.25)');
        expect(() => focalLoss({ alpha: [1, 2] })(pred, y)).toThrow('pred has 3 classes in its last dimension but the class weights have 2 entries');
        tf.dispose([pred, y]);
      });
    });
  });

  describe('maskWeightedMse', () => {
    const bright = (y: tf.Tensor): tf.Tensor => tf.greater(y, 0.9);

    it('weights masked pixels ×10 and halves samples without any (hand-computed)', async () => {
      // Two 2×2 frames, pred 0. Frame 0: one knife pixel (1.0), squared errors [1, 0, 0, 0], the 1 weighted ×10.
      // Frame 1: no knife, all 0.2, squared errors 0.04 × 4, halved. Mean over 8: (10 + 0.5 · 0.16) / 8 = 1.26.
      await expectNoLeak(async () => {
        const y = tf.tensor4d([1, 0, 0, 0, 0.2, 0.2, 0.2, 0.2], [2, 2, 2, 1]);
        expect(await lossValue(maskWeightedMse({ mask: bright }), new Array(8).fill(0), [2, 2, 2, 1], y)).toBeCloseTo(1.26, 5);
        const plain = await lossValue(maskWeightedMse({ mask: bright, weightInside: 1, noTargetFactor: 1 }), new Array(8).fill(0), [2, 2, 2, 1], y);
        expect(plain).toBeCloseTo((1 + 0.16) / 8, 6); // the plain MSE
        y.dispose();
      });
    });

    it('broadcasts a one-channel mask over colour channels', async () => {
      await expectNoLeak(async () => {
        const y = tf.tensor4d([1, 0.5, 0.2, 0.2], [1, 2, 1, 2]); // pixel 0 channels (1, 0.5), pixel 1 (0.2, 0.2)
        const mask = (target: tf.Tensor): tf.Tensor => tf.greater(tf.max(target, -1, true), 0.9); // [1, 2, 1, 1]
        // errors² [1, 0.25, 0.04, 0.04]; pixel 0 both channels ×3 → (3 + 0.75 + 0.08) / 4
        expect(await lossValue(maskWeightedMse({ mask, weightInside: 3 }), [0, 0, 0, 0], [1, 2, 1, 2], y)).toBeCloseTo(3.83 / 4, 5);
        y.dispose();
      });
    });

    it('has the finite-difference gradient', async () => {
      const y = tf.tensor4d([1, 0.1, 0.3, 0.2, 0.5, 0.4], [2, 3, 1, 1]);
      await expectGradientMatchesFiniteDifferences(maskWeightedMse({ mask: bright }), [0.2, 0.3, -0.1, 0.6, 0.1, 0.9], [2, 3, 1, 1], y);
      y.dispose();
    });

    it('refuses bad options and shapes, naming the value', async () => {
      expect(() => maskWeightedMse({ mask: bright, weightInside: -1 })).toThrow('weightInside must be a finite number >= 0 (received -1)');
      expect(() => maskWeightedMse({ mask: 3 as unknown as (y: tf.Tensor) => tf.Tensor })).toThrow('mask must be a function (y) => tf.Tensor (received 3)');
      await expectNoLeak(async () => {
        const pred = tf.zeros([2, 2, 2, 1]);
        const y = tf.zeros([2, 2, 2, 3]);
        expect(() => maskWeightedMse({ mask: bright })(pred, y)).toThrow("y must have pred's shape [2, 2, 2, 1] (received shape [2, 2, 2, 3])");
        expect(() => maskWeightedMse({ mask: () => tf.ones([3]) })(pred, pred)).toThrow('the mask of shape [3] must broadcast');
        tf.dispose([pred, y]);
      });
    });
  });
});
