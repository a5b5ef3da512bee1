import { describe, expect, it } from 'vitest';
import { classWeights, countClasses } from './class-weights.js';

describe('countClasses', () => {
  it('counts each class, including absent ones up to numClasses', () => {
    expect(countClasses([0, 2, 2, 1, 2], 4)).toEqual([1, 1, 3, 0]);
    expect(countClasses(Int32Array.from([1, 1, 0]))).toEqual([1, 2]);
  });

  it('names the bad label', () => {
    expect(() => countClasses([0, 4], 4)).toThrow('labels[1] must be a class index below numClasses = 4 (received 4)');
    expect(() => countClasses([0, -1])).toThrow('labels[1] must be a non-negative class index (received -1)');
    expect(() => countClasses([])).toThrow('labels must not be empty');
  });
});

describe('classWeights', () => {
  it("gives scikit-learn's 'balanced' weights n / (K · n_c)", () => {
    // sklearn: compute_class_weight('balanced', classes=[0, 1, 2], y=[0, 0, 0, 0, 1, 1, 2]) = 7 / (3 · [4, 2, 1])
    const weights = classWeights([4, 2, 1]);
    expect(weights[0]).toBeCloseTo(7 / 12, 12);
    expect(weights[1]).toBeCloseTo(7 / 6, 12);
    expect(weights[2]).toBeCloseTo(7 / 3, 12);
    // E1.3's split: 100 / (4 · [43, 37, 13, 7])
    expect(classWeights([43, 37, 13, 7]).map((w) => Number(w.toFixed(4)))).toEqual([0.5814, 0.6757, 1.9231, 3.5714]);
    expect(classWeights([5, 5, 5])).toEqual([1, 1, 1]);
  });

  it('gives inverse frequencies n / n_c ("an error on class 4 is worth 100/7")', () => {
    const weights = classWeights([43, 37, 13, 7], { method: 'inverse' });
    expect(weights.map((w) => w * 7)).toEqual([700 / 43, 700 / 37, 700 / 13, 100].map((w) => expect.closeTo(w, 9)));
  });

  it('gives the inverse effective number of samples (1 − β) / (1 − β^n) of Cui et al.', () => {
    const weights = classWeights([100, 10, 1], { method: 'effective', beta: 0.9 });
    expect(weights[0]).toBeCloseTo(0.1 / (1 - 0.9 ** 100), 12);
    expect(weights[1]).toBeCloseTo(0.1 / (1 - 0.9 ** 10), 12); // 0.15349…
    expect(weights[2]).toBeCloseTo(1, 12); // one sample: effective number 1
    expect(classWeights([100, 10], { method: 'effective', beta: 0 })).toEqual([1, 1]);
    const normalised = classWeights([100, 10, 1], { method: 'effective', beta: 0.9, normalize: true });
    expect(normalised.reduce((a, b) => a + b, 0)).toBeCloseTo(3, 12);
    expect(normalised[2]! / normalised[1]!).toBeCloseTo(weights[2]! / weights[1]!, 12);
  });

  it('refuses a missing class, negative counts, unknown methods and β outside [0, 1)', () => {
    expect(() => classWeights([43, 0, 13])).toThrow('labels has no sample of class 1 (class counts [43, 0, 13])');
    expect(() => classWeights([0, 0])).toThrow('no sample of class 0');
    expect(() => classWeights([4, -1])).toThrow('counts[1] must be a finite number >= 0 (received -1)');
    expect(() => classWeights([])).toThrow('counts must be a non-empty array');
    expect(() => classWeights([1, 2], { method: 'sqrt' as 'inverse' })).toThrow('method must be one of balanced, inverse, effective (received "sqrt")');
    expect(() => classWeights([1, 2], { method: 'effective', beta: 1 })).toThrow('beta must be a number in [0, 1) (received 1)');
  });
});
