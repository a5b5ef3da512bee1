import { createRng } from '@convkit/core';
import { describe, expect, it } from 'vitest';
import { ResamplingSampler, resample, resampleCounts } from './resampling.js';
import { countClasses } from './class-weights.js';

const LABELS = [43, 37, 13, 7].flatMap((count, c) => Array<number>(count).fill(c));

describe('resampleCounts', () => {
  it('over- and undersamples to equal shares', () => {
    expect(resampleCounts([43, 37, 13, 7], { mode: 'over' })).toEqual([43, 43, 43, 43]);
    expect(resampleCounts([43, 37, 13, 7], { mode: 'under' })).toEqual([7, 7, 7, 7]);
  });

  it('hits a target distribution, keeping every row (over) or none twice (under)', () => {
    // over: s = max(43/.4, 37/.3, 13/.2, 7/.1) = 123.33 → ceil([49.3, 37, 24.7, 12.3])
    expect(resampleCounts([43, 37, 13, 7], { mode: 'over', target: [0.4, 0.3, 0.2, 0.1] })).toEqual([50, 37, 25, 13]);
    // under: s = min(107.5, 123.3, 65, 70) = 65 → floor([26, 19.5, 13, 6.5])
    expect(resampleCounts([43, 37, 13, 7], { mode: 'under', target: [0.4, 0.3, 0.2, 0.1] })).toEqual([26, 19, 13, 6]);
    expect(resampleCounts([43, 0, 13], { mode: 'under', target: [0.5, 0, 0.5] })).toEqual([13, 0, 13]);
  });

  it('refuses a bad target or a missing class, naming the value', () => {
    expect(() => resampleCounts([4, 3], { mode: 'over', target: [0.5, 0.6] })).toThrow('target must sum to 1 (received [0.5, 0.6], which sums to 1.1)');
    expect(() => resampleCounts([4, 3], { mode: 'over', target: [1] })).toThrow('target must have one entry per class, 2 (received 1 entries');
    expect(() => resampleCounts([4, 3], { mode: 'over', target: [1.5, -0.5] })).toThrow('target[1] must be a finite number >= 0 (received -0.5)');
    expect(() => resampleCounts([4, 0], { mode: 'over' })).toThrow('labels has no sample of class 1 (class counts [4, 0]), but target gives it 0.5');
    expect(() => resampleCounts([4, 3], { mode: 'sideways' as 'over' })).toThrow(`mode must be 'over' or 'under' (received "sideways")`);
  });
});

describe('resample', () => {
  it('oversampling keeps every row and repeats rare ones to the exact counts', () => {
    const rows = resample(LABELS, { mode: 'over' }, createRng(1));
    expect(rows.length).toBe(172);
    expect(countClasses(Array.from(rows, (row) => LABELS[row]!), 4)).toEqual([43, 43, 43, 43]);
    expect(new Set(rows).size).toBe(100); // every original row is there
  });

  it('undersampling keeps distinct rows at the exact counts, deterministic by seed', () => {
    const rows = resample(LABELS, { mode: 'under', target: [0.4, 0.3, 0.2, 0.1] }, createRng(2));
    expect(countClasses(Array.from(rows, (row) => LABELS[row]!), 4)).toEqual([26, 19, 13, 6]);
    expect(new Set(rows).size).toBe(rows.length);
    expect(resample(LABELS, { mode: 'under' }, createRng(3))).toEqual(resample(LABELS, { mode: 'under' }, createRng(3)));
  });
});

describe('ResamplingSampler', () => {
  it('draws a fresh subset every epoch with the same class counts and length', () => {
    const sampler = new ResamplingSampler({ labels: LABELS, mode: 'under' });
    const rng = createRng(4);
    const first = sampler.epochIndices(0, rng);
    const second = sampler.epochIndices(1, rng);
    for (const rows of [first, second]) expect(countClasses(Array.from(rows, (row) => LABELS[row]!), 4)).toEqual([7, 7, 7, 7]);
    expect(first).not.toEqual(second);
    expect(sampler.epochSize).toBe(28);
    expect(sampler.length(8, false)).toBe(4);
    expect(sampler.length(8, true)).toBe(3);
  });
});
