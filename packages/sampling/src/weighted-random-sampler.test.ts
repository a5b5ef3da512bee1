import { createRng } from '@convkit/core';
import { describe, expect, it } from 'vitest';
import { WeightedRandomSampler } from './weighted-random-sampler.js';

/** Expects each observed frequency within 5 standard errors of the expected probability. */
function expectFrequencies(counts: number[], probabilities: number[], draws: number): void {
  for (const [c, probability] of probabilities.entries()) {
    const standardError = Math.sqrt((probability * (1 - probability)) / draws);
    expect(Math.abs(counts[c]! / draws - probability)).toBeLessThan(5 * standardError + 1e-12);
  }
}

function tally(rows: Int32Array, map: (row: number) => number, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (const row of rows) counts[map(row)]! += 1;
  return counts;
}

const SPLIT = [...Array(43).fill(0), ...Array(37).fill(1), ...Array(13).fill(2), ...Array(7).fill(3)] as number[];

describe('WeightedRandomSampler', () => {
  it('draws rows with replacement in proportion to their weights (within 5 standard errors)', () => {
    const sampler = new WeightedRandomSampler({ weights: [1, 2, 3, 4, 0], numSamples: 20_000 });
    const rows = sampler.epochIndices(0, createRng(1));
    expect(rows.length).toBe(20_000);
    const counts = tally(rows, (row) => row, 5);
    expect(counts[4]).toBe(0); // weight 0 is never drawn
    expectFrequencies(counts, [0.1, 0.2, 0.3, 0.4, 0], 20_000);
  });

  it('with labels draws every class equally at balance 1, naturally at 0, and mixes in between', () => {
    const draws = 40_000;
    const sampler = new WeightedRandomSampler({ labels: SPLIT, numSamples: draws });
    const classOf = (row: number): number => SPLIT[row]!;
    expectFrequencies(tally(sampler.epochIndices(0, createRng(2)), classOf, 4), [0.25, 0.25, 0.25, 0.25], draws);
    sampler.balance = 0;
    expectFrequencies(tally(sampler.epochIndices(0, createRng(3)), classOf, 4), [0.43, 0.37, 0.13, 0.07], draws);
    sampler.balance = 0.5;
    const mixed = [0.43, 0.37, 0.13, 0.07].map((p) => 0.5 * 0.25 + 0.5 * p);
    expectFrequencies(tally(sampler.epochIndices(0, createRng(4)), classOf, 4), mixed, draws);
    expect(Array.from(sampler.probabilities()).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('without replacement draws distinct rows, never a zero weight, the first in proportion to the weights', () => {
    const sampler = new WeightedRandomSampler({ weights: [1, 2, 3, 4, 0, 5], numSamples: 5, replacement: false });
    const rng = createRng(5);
    const first = new Array<number>(6).fill(0);
    const trials = 6000;
    for (let t = 0; t < trials; t++) {
      const rows = sampler.epochIndices(t, rng);
      expect(new Set(rows).size).toBe(5);
      expect(rows.includes(4)).toBe(false);
      first[rows[0]!]! += 1;
    }
    expectFrequencies(first, [1, 2, 3, 4, 0, 5].map((w) => w / 15), trials);
  });

  it('is deterministic by seed', () => {
    const sampler = new WeightedRandomSampler({ labels: SPLIT, replacement: false, numSamples: 30 });
    expect(sampler.epochIndices(0, createRng(9))).toEqual(sampler.epochIndices(0, createRng(9)));
    expect(sampler.epochIndices(0, createRng(9))).not.toEqual(sampler.epochIndices(0, createRng(10)));
    expect(sampler.length(8, false)).toBe(4);
    expect(sampler.length(8, true)).toBe(3);
  });

  it('refuses negative or all-zero weights, missing classes and impossible draws, naming the value', () => {
    expect(() => new WeightedRandomSampler({ weights: [1, -2] })).toThrow('weights[1] must be a finite number >= 0 (received -2)');
    expect(() => new WeightedRandomSampler({ weights: [0, 0] })).toThrow('weights must not be all zero (received [0, 0])');
    expect(() => new WeightedRandomSampler({ labels: [0, 2, 2] })).toThrow('labels has no sample of class 1');
    expect(() => new WeightedRandomSampler({ labels: [0, 1], numClasses: 3 })).toThrow('labels has no sample of class 2');
    expect(() => new WeightedRandomSampler({ weights: [1, 0, 1], numSamples: 3, replacement: false })).toThrow(
      'numSamples must be at most the 2 rows with a positive weight when drawing without replacement (received 3)'
    );
    expect(() => new WeightedRandomSampler({ weights: [1], labels: [0] })).toThrow('give exactly one of weights and labels (received both)');
    expect(() => new WeightedRandomSampler({})).toThrow('(received neither)');
    expect(() => new WeightedRandomSampler({ weights: [1], numSamples: 0 })).toThrow('numSamples must be a positive integer (received 0)');
    const sampler = new WeightedRandomSampler({ weights: [1, 1] });
    expect(() => (sampler.balance = 1.5)).toThrow('balance must be a number in [0, 1] (received 1.5)');
  });
});
