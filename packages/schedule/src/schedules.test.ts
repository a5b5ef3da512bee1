import { describe, expect, it } from 'vitest';
import { combineSchedules, constant, cosine, exponential, linear, polynomial } from '@convkit/schedule';

describe('linear', () => {
  it('interpolates start + p · (end − start), hitting both endpoints', () => {
    const f = linear(0.1, 0.5);
    expect(f(0)).toBe(0.1);
    expect(f(1)).toBeCloseTo(0.5, 15);
    expect(f(0.25)).toBeCloseTo(0.2, 15);
  });
});

describe('cosine', () => {
  it('follows end + (start − end)(1 + cos πp)/2 and is flat at the ends', () => {
    const f = cosine(1, 0);
    expect(f(0)).toBe(1);
    expect(f(1)).toBeCloseTo(0, 15);
    expect(f(0.5)).toBeCloseTo(0.5, 15);
    expect(f(0.25)).toBeCloseTo((1 + Math.cos(Math.PI / 4)) / 2, 15);
    expect(f(0) - f(0.01)).toBeLessThan(f(0.5) - f(0.51));
  });
});

describe('exponential', () => {
  it('is geometric: start · (end / start)^p', () => {
    const f = exponential(1e-7, 10);
    expect(f(0)).toBeCloseTo(1e-7, 20);
    expect(f(1) / 10).toBeCloseTo(1, 12);
    expect(f(0.5) / Math.sqrt(1e-6)).toBeCloseTo(1, 12);
  });
  it('rejects a non-positive or NaN endpoint, naming it', () => {
    expect(() => exponential(0, 1)).toThrow('start must be a finite number > 0 (received 0)');
    expect(() => exponential(1, NaN)).toThrow('end must be a finite number > 0 (received NaN)');
  });
});

describe('polynomial and constant', () => {
  it('polynomial gives start + (end − start) p^power; constant ignores p', () => {
    expect(polynomial(0, 2, 2)(0.5)).toBeCloseTo(0.5, 15);
    expect(polynomial(1, 0, 0.5)(0.25)).toBeCloseTo(0.5, 15);
    expect(constant(0.9)(0.37)).toBe(0.9);
    expect(() => polynomial(0, 1, 0)).toThrow('power must be a finite number > 0 (received 0)');
  });
});

describe('combineSchedules', () => {
  it('feeds each part its local progress, like fastai combine_scheds', () => {
    const f = combineSchedules([0.25, 0.75], [linear(0, 1), linear(1, 0)]);
    expect(f(0)).toBe(0);
    expect(f(0.125)).toBeCloseTo(0.5, 15);
    expect(f(0.25)).toBe(1);
    expect(f(0.625)).toBeCloseTo(0.5, 15);
    expect(f(1)).toBeCloseTo(0, 15);
  });
  it('rejects fractions that do not sum to 1 and mismatched lengths', () => {
    expect(() => combineSchedules([0.5, 0.4], [constant(1), constant(2)])).toThrow('fractions must sum to 1');
    expect(() => combineSchedules([1], [constant(1), constant(2)])).toThrow('one schedule per fraction');
    expect(() => combineSchedules([1.5, -0.5], [constant(1), constant(2)])).toThrow('fractions[1] must be a finite number > 0 (received -0.5)');
  });
});
