import { describe, expect, it } from 'vitest';
import { classCounts, createImageDataset } from './dataset.js';
import type { ImageDataset } from './dataset.js';
import { stratifiedSplit } from './stratified-split.js';

/** `perClass[c]` 1×1×1 images of class c; image i's pixel is i % 256, its index in a small set. */
function dataset(perClass: number[]): ImageDataset {
  const labels = perClass.flatMap((n, c) => new Array<number>(n).fill(c));
  return createImageDataset({
    images: Uint8Array.from(labels, (_, i) => i % 256),
    labels,
    shape: [1, 1, 1],
    classNames: perClass.map((_, c) => `class${c}`),
  });
}

describe('stratifiedSplit', () => {
  it('gives each class its share to rounding, covers every image once, and is seeded', () => {
    const ds = dataset([100, 40, 7]);
    const split = stratifiedSplit(ds, { fractions: [0.7, 0.2, 0.1], seed: 5 });
    expect(classCounts(split.train)).toEqual([70, 28, 5]);
    expect(classCounts(split.valid)).toEqual([20, 8, 1]); // round(7 × 0.9) = 6, minus 5
    expect(classCounts(split.test)).toEqual([10, 4, 1]);
    const all = [...split.train.images, ...split.valid.images, ...split.test.images].sort((a, b) => a - b);
    expect(all).toEqual(Array.from(ds.images).sort((a, b) => a - b));
    for (const part of [split.train, split.valid, split.test]) {
      for (let i = 0; i < part.length; i++) expect(ds.labels[part.images[i] as number]).toBe(part.labels[i]);
    }
    const again = stratifiedSplit(ds, { fractions: [0.7, 0.2, 0.1], seed: 5 });
    expect(Array.from(again.valid.images)).toEqual(Array.from(split.valid.images));
    const other = stratifiedSplit(ds, { fractions: [0.7, 0.2, 0.1], seed: 6 });
    expect(Array.from(other.valid.images)).not.toEqual(Array.from(split.valid.images));
  });

  it('rejects fractions that do not sum to 1', () => {
    expect(() => stratifiedSplit(dataset([4]), { fractions: [0.5, 0.2, 0.2] })).toThrow(
      'fractions must be [train, valid, test], non-negative numbers summing to 1 with train > 0 (received [0.5,0.2,0.2])',
    );
  });
});

