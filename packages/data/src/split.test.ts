import { createRng } from '@convkit/core';
import { describe, expect, it } from 'vitest';
import { classCounts, createImageDataset } from './dataset.js';
import type { ImageDataset } from './dataset.js';
import { shuffleIndices, trainValidSplit } from './split.js';

/**
 * A dataset whose 1×2×1 image `i` stores `i` in its two bytes (little-endian), so every
 * image can be traced back to its row. Class sizes are uneven: class c has `sizes[c]` images.
 */
function traceable(sizes: number[]): ImageDataset {
  const labels: number[] = [];
  sizes.forEach((size, c) => labels.push(...new Array<number>(size).fill(c)));
  // Interleave the classes so that class membership is not a contiguous block.
  const order = createRng(99).permutation(labels.length);
  const shuffled = Array.from(order, (i) => labels[i] as number);
  const images = new Uint8Array(labels.length * 2);
  for (let i = 0; i < labels.length; i++) {
    images[2 * i] = i & 0xff;
    images[2 * i + 1] = i >> 8;
  }
  return createImageDataset({ images, labels: shuffled, shape: [1, 2, 1], numClasses: sizes.length });
}

function rows(ds: ImageDataset): number[] {
  return Array.from({ length: ds.length }, (_, i) => (ds.images[2 * i] as number) + 256 * (ds.images[2 * i + 1] as number));
}

describe('shuffleIndices', () => {
  it('is a permutation of 0..n-1, the same for the same seed and different for another', () => {
    const a = shuffleIndices(1000, createRng(3));
    const b = shuffleIndices(1000, createRng(3));
    const c = shuffleIndices(1000, createRng(4));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(shuffleIndices(0, createRng(1))).toHaveLength(0);
  });

  it('rejects a negative or fractional n', () => {
    expect(() => shuffleIndices(-1, createRng(0))).toThrow('n must be a non-negative integer (received -1)');
    expect(() => shuffleIndices(2.5, createRng(0))).toThrow('n must be a non-negative integer (received 2.5)');
  });
});

describe('trainValidSplit', () => {
  const sizes = [100, 37, 250, 3, 61];
  const ds = traceable(sizes);

  it('is disjoint and covering, keeps labels with their images, and keeps the original order', () => {
    const { train, valid } = trainValidSplit(ds, { validFraction: 0.2, seed: 5 });
    const trainRows = rows(train);
    const validRows = rows(valid);
    expect(new Set([...trainRows, ...validRows]).size).toBe(ds.length);
    expect(trainRows.length + validRows.length).toBe(ds.length);
    expect(trainRows).toEqual([...trainRows].sort((a, b) => a - b));
    expect(validRows).toEqual([...validRows].sort((a, b) => a - b));
    trainRows.forEach((row, i) => expect(train.labels[i]).toBe(ds.labels[row]));
    validRows.forEach((row, i) => expect(valid.labels[i]).toBe(ds.labels[row]));
    expect(train.classNames).toEqual(ds.classNames);
  });

  it('stratifies: each class gives round(n_c × validFraction) images to validation', () => {
    for (const validFraction of [0.1, 0.2, 0.5, 0.77]) {
      const { train, valid } = trainValidSplit(ds, { validFraction, seed: 1 });
      const expected = sizes.map((n) => Math.round(n * validFraction));
      expect(classCounts(valid)).toEqual(expected);
      expect(classCounts(train)).toEqual(sizes.map((n, c) => n - (expected[c] as number)));
    }
  });

  it('without stratify takes round(n × validFraction) images from the whole', () => {
    const { train, valid } = trainValidSplit(ds, { validFraction: 0.3, seed: 1, stratify: false });
    expect(valid.length).toBe(Math.round(451 * 0.3));
    expect(train.length).toBe(451 - valid.length);
  });

  it('is deterministic by seed', () => {
    const a = trainValidSplit(ds, { validFraction: 0.25, seed: 11 });
    const b = trainValidSplit(ds, { validFraction: 0.25, seed: 11 });
    const c = trainValidSplit(ds, { validFraction: 0.25, seed: 12 });
    expect(rows(a.valid)).toEqual(rows(b.valid));
    expect(rows(a.valid)).not.toEqual(rows(c.valid));
    const unstratified = trainValidSplit(ds, { validFraction: 0.25, seed: 11, stratify: false });
    expect(rows(unstratified.valid)).toEqual(rows(trainValidSplit(ds, { validFraction: 0.25, seed: 11, stratify: false }).valid));
  });

  it('rejects fractions outside (0, 1) and splits that leave a set empty', () => {
    expect(() => trainValidSplit(ds, { validFraction: 1 })).toThrow(
      'validFraction must be a number strictly between 0 and 1 (received 1)',
    );
    expect(() => trainValidSplit(ds, { validFraction: 0 })).toThrow('(received 0)');
    expect(() => trainValidSplit(ds, { validFraction: 0.0001 })).toThrow(
      'validFraction 0.0001 leaves the validation set empty for a dataset of 451 images',
    );
    expect(() => trainValidSplit(ds, { validFraction: 0.1, seed: 0.5 })).toThrow('seed must be an integer (received 0.5)');
  });
});
