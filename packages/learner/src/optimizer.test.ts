import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromTfOptimizer, toOptimizerLike } from './optimizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Applies one step with gradient `g` to a fresh variable `w0` and returns the new value. */
function stepOnce(optimizer: ReturnType<typeof fromTfOptimizer>, variable: tf.Variable, g: number[]): number[] {
  const gradient = tf.tensor1d(g);
  optimizer.applyGradients([{ variable, gradient }]);
  gradient.dispose();
  return Array.from(variable.dataSync());
}

describe('fromTfOptimizer', () => {
  it('SGD: a learningRate set between steps changes the next update to Δw = −lr·g', async () => {
    await expectNoLeak(() => {
      const w = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
      const optimizer = fromTfOptimizer(tf.train.sgd(0.1));
      expect(optimizer.hyperNames).toEqual(['learningRate']);
      const first = stepOnce(optimizer, w, [1, -2]);
      expect(first[0]).toBeCloseTo(0.9, 6);
      expect(first[1]).toBeCloseTo(2.2, 6);
      optimizer.setHyper('learningRate', 0.5);
      expect(optimizer.getHyper('learningRate')).toBe(0.5);
      const second = stepOnce(optimizer, w, [1, -2]);
      expect(second[0]).toBeCloseTo(0.4, 6);
      expect(second[1]).toBeCloseTo(3.2, 6);
      optimizer.dispose();
      w.dispose();
    });
  });

  it('Momentum: momentum set between steps is used by the next step', async () => {
    await expectNoLeak(() => {
      const w = tf.tidy(() => tf.variable(tf.tensor1d([0])));
      const optimizer = fromTfOptimizer(tf.train.momentum(0.1, 0.9));
      expect(optimizer.hyperNames).toEqual(['learningRate', 'momentum']);
      stepOnce(optimizer, w, [1]); // v = 1, w = −0.1
      optimizer.setHyper('momentum', 0.5);
      // v = 0.5·1 + 1 = 1.5, w = −0.1 − 0.1·1.5 = −0.25 (with the stale momentum 0.9 it would be −0.29)
      expect(stepOnce(optimizer, w, [1])[0]).toBeCloseTo(-0.25, 6);
      optimizer.dispose();
      w.dispose();
    });
  });

  it('Adam: exposes learningRate, beta1 and beta2, and learningRate scales the step', async () => {
    await expectNoLeak(() => {
      const w = tf.tidy(() => tf.variable(tf.tensor1d([0])));
      const optimizer = fromTfOptimizer(tf.train.adam(0.1, 0.9, 0.999));
      expect(optimizer.hyperNames).toEqual(['learningRate', 'beta1', 'beta2']);
      expect([optimizer.getHyper('beta1'), optimizer.getHyper('beta2')]).toEqual([0.9, 0.999]);
      optimizer.setHyper('learningRate', 0.01);
      // the first Adam step moves by ≈ lr·sign(g)
      expect(stepOnce(optimizer, w, [3])[0]).toBeCloseTo(-0.01, 5);
      optimizer.dispose();
      w.dispose();
    });
  });

  it('keeps each variable at a fixed slot when some steps lack a gradient', async () => {
    await expectNoLeak(() => {
      const a = tf.tidy(() => tf.variable(tf.tensor1d([0, 0])));
      const b = tf.tidy(() => tf.variable(tf.tensor1d([0])));
      const optimizer = fromTfOptimizer(tf.train.momentum(1, 1));
      const ga = tf.tensor1d([1, 1]);
      const gb = tf.tensor1d([1]);
      optimizer.applyGradients([
        { variable: a, gradient: ga },
        { variable: b, gradient: gb },
      ]);
      optimizer.applyGradients([{ variable: b, gradient: gb }]); // b's velocity 2 → b = −1 − 2
      expect(Array.from(a.dataSync())).toEqual([-1, -1]);
      expect(Array.from(b.dataSync())).toEqual([-3]);
      tf.dispose([ga, gb, a, b]);
      optimizer.dispose();
    });
  });

  it('round-trips its state through getState/setState', async () => {
    await expectNoLeak(async () => {
      const w1 = tf.tidy(() => tf.variable(tf.tensor1d([1, 1])));
      const w2 = tf.tidy(() => tf.variable(tf.tensor1d([1, 1])));
      const source = fromTfOptimizer(tf.train.adam(0.1));
      stepOnce(source, w1, [1, -1]);
      stepOnce(source, w1, [0.5, 2]);
      const state = JSON.parse(JSON.stringify(await source.getState!()));
      const target = fromTfOptimizer(tf.train.adam(0.3));
      stepOnce(target, w2, [9, 9]); // state to be replaced
      await target.setState!(state);
      expect(target.getHyper('learningRate')).toBe(0.1);
      w2.assign(w1);
      const next1 = stepOnce(source, w1, [-1, 1]);
      const next2 = stepOnce(target, w2, [-1, 1]);
      expect(next2[0]).toBeCloseTo(next1[0]!, 6);
      expect(next2[1]).toBeCloseTo(next1[1]!, 6);
      source.dispose();
      target.dispose();
      tf.dispose([w1, w2]);
    });
  });

  it('rejects unknown hypers and non-finite values', async () => {
    await expectNoLeak(() => {
      const optimizer = fromTfOptimizer(tf.train.sgd(0.1));
      expect(() => optimizer.setHyper('momentum', 0.9)).toThrow(
        'unknown hyperparameter "momentum" (available: learningRate)'
      );
      expect(() => optimizer.setHyper('learningRate', Number.NaN)).toThrow(
        'learningRate must be a finite number (received NaN)'
      );
      expect(() => toOptimizerLike({})).toThrow('optimizer must be an OptimizerLike');
      optimizer.dispose();
    });
  });
});
