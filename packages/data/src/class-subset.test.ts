import { describe, expect, it } from 'vitest';
import { classSubset } from './class-subset.js';
import { classCounts, createImageDataset } from './dataset.js';
import type { ImageDataset } from './dataset.js';

/** `perClass[c]` 1×1×1 images of class c; image i's pixel is i % 256. */
function dataset(perClass: number[]): ImageDataset {
  const labels = perClass.flatMap((n, c) => new Array<number>(n).fill(c));
  return createImageDataset({
    images: Uint8Array.from(labels, (_, i) => i % 256),
    labels,
    shape: [1, 1, 1],
    classNames: perClass.map((_, c) => `class${c}`),
  });
}

describe('classSubset', () => {
  it('takes exact counts per class, seeded, without repeats', () => {
    const ds = dataset([50, 50, 50, 50]);
    const sub = classSubset(ds, { counts: [10, 0, 5, 50], seed: 2 });
    expect(classCounts(sub)).toEqual([10, 0, 5, 50]);
    expect(new Set(sub.images).size).toBe(65);
    expect(sub.classNames).toEqual(ds.classNames);
    expect(Array.from(classSubset(ds, { counts: [10, 0, 5, 50], seed: 2 }).images)).toEqual(Array.from(sub.images));
  });

  it('turns proportions into counts by largest remainder, to the largest size by default', () => {
    const ds = dataset([60, 60, 60, 60]);
    expect(classCounts(classSubset(ds, { proportions: [43, 37, 13, 7], size: 100 }))).toEqual([43, 37, 13, 7]);
    expect(classCounts(classSubset(ds, { proportions: [1, 1, 1, 0], size: 10 }))).toEqual([4, 3, 3, 0]);
    // Class 0 limits the total to floor(60 / 0.43) = 139: 59.77, 51.43, 18.07, 9.73 → largest remainders to classes 0 and 3.
    const largest = classSubset(ds, { proportions: [43, 37, 13, 7] });
    expect(classCounts(largest)).toEqual([60, 51, 18, 10]);
  });

  it('names a class that lacks images', () => {
    const ds = dataset([5, 2]);
    expect(() => classSubset(ds, { counts: [3, 3] })).toThrow('classSubset: class "class1" (1) has 2 images, fewer than the 3 asked for');
    expect(() => classSubset(ds, { proportions: [1, 1], size: 8 })).toThrow('class "class1" (1) has 2 images, fewer than the 4 asked for');
    expect(classCounts(classSubset(ds, { proportions: [1, 1] }))).toEqual([2, 2]);
    expect(() => classSubset(ds, {})).toThrow('give exactly one of counts and proportions (received neither)');
    expect(() => classSubset(ds, { counts: [1] })).toThrow('counts must hold 2 non-negative numbers, one per class (received [1])');
  });
});
