import { describe, expect, it } from 'vitest';
import { createImageDataset, type ImageDataset } from '@convkit/data';
import { mixLabeled, pseudoDataset, selectConfident } from '@convkit/pseudolabel';

/** A dataset of `n` 1×1×1 images whose byte is `offset + i`, so every row is recognisable. */
function numbered(n: number, offset: number, numClasses = 3): ImageDataset {
  return createImageDataset({
    images: Uint8Array.from({ length: n }, (_, i) => offset + i),
    labels: Array.from({ length: n }, (_, i) => i % numClasses),
    shape: [1, 1, 1],
    numClasses,
  });
}

describe('mixLabeled', () => {
  const labeled = numbered(10, 0);
  const pseudo = numbered(50, 100);

  it.each([
    [[1, 2] as const, 20],
    [[1, 4] as const, 40],
    [3, 30],
    [[2, 3] as const, 15],
    [0, 0],
  ])('ratio %j keeps all 10 labeled rows and adds exactly %i pseudolabeled rows', (ratio, count) => {
    const mixed = mixLabeled(labeled, pseudo, { ratio });
    expect(mixed.labeledCount).toBe(10);
    expect(mixed.pseudoCount).toBe(count);
    expect(mixed.dataset.length).toBe(10 + count);
    expect(mixed.ratio).toBeCloseTo(count / 10, 10);
    expect([...mixed.dataset.images.subarray(0, 10)]).toEqual([...labeled.images]);
    expect(new Set(mixed.pseudoRows).size).toBe(count); // without replacement
    mixed.pseudoRows.forEach((row, j) => {
      expect(mixed.dataset.images[10 + j]).toBe(100 + row);
      expect(mixed.dataset.labels[10 + j]).toBe(pseudo.labels[row]);
    });
  });

  it('defaults to 1:2', () => {
    expect(mixLabeled(labeled, pseudo).pseudoCount).toBe(20);
  });

  it('is seeded: the same seed draws the same rows, another seed others', () => {
    const a = mixLabeled(labeled, pseudo, { ratio: [1, 2], seed: 7 });
    const b = mixLabeled(labeled, pseudo, { ratio: [1, 2], seed: 7 });
    const c = mixLabeled(labeled, pseudo, { ratio: [1, 2], seed: 8 });
    expect([...a.pseudoRows]).toEqual([...b.pseudoRows]);
    expect([...a.dataset.images]).toEqual([...b.dataset.images]);
    expect([...a.pseudoRows]).not.toEqual([...c.pseudoRows]);
  });

  it("takes every pseudolabeled row when short ('all'), or repeats whole permutations ('repeat')", () => {
    const few = numbered(15, 100);
    const all = mixLabeled(labeled, few, { ratio: [1, 4] });
    expect(all.pseudoCount).toBe(15);
    expect(all.ratio).toBeCloseTo(1.5, 10);
    const repeated = mixLabeled(labeled, few, { ratio: [1, 4], whenShort: 'repeat' });
    expect(repeated.pseudoCount).toBe(40);
    const counts = new Array<number>(15).fill(0);
    for (const row of repeated.pseudoRows) counts[row]!++;
    expect(counts.every((n) => n === 2 || n === 3)).toBe(true); // 2 full permutations, then 10 of a third
    expect(counts.reduce((s, n) => s + n, 0)).toBe(40);
  });

  it('rejects bad ratios, shapes, classes and options', () => {
    expect(() => mixLabeled(labeled, pseudo, { ratio: [0, 2] })).toThrow(
      'ratio must be [labeled, pseudo] with labeled > 0 and pseudo ≥ 0 (e.g. [1, 3]) or a number n ≥ 0 for 1:n (received [0,2])'
    );
    expect(() => mixLabeled(labeled, pseudo, { ratio: -1 })).toThrow('(received -1)');
    expect(() => mixLabeled(labeled, numbered(5, 0, 4))).toThrow('pseudo.numClasses must equal labeled.numClasses = 3 (received 4)');
    const wide = createImageDataset({ images: new Uint8Array(2), labels: [0], shape: [1, 2, 1], numClasses: 3 });
    expect(() => mixLabeled(labeled, wide)).toThrow('pseudo.shape must equal labeled.shape [1, 1, 1] (received [1, 2, 1])');
    expect(() => mixLabeled(labeled, pseudo, { whenShort: 'never' as 'all' })).toThrow(`whenShort must be 'all' or 'repeat' (received "never")`);
    expect(() => mixLabeled(labeled, pseudo, { seed: 0.5 })).toThrow('seed must be an integer (received 0.5)');
    expect(() => mixLabeled({} as ImageDataset, pseudo)).toThrow('labeled must be a Dataset from @convkit/data, in memory or streaming (received an Object)');
  });
});

describe('pseudoDataset', () => {
  it('holds the kept unlabeled images with their pseudo-labels', () => {
    const unlabeled = numbered(4, 10, 2);
    const kept = selectConfident(
      { values: Float32Array.from([0.9, 0.1, 0.5, 0.5, 0.2, 0.8, 0.05, 0.95]), length: 4, numClasses: 2 },
      { threshold: 0.8 }
    );
    const set = pseudoDataset(unlabeled, kept);
    expect([...set.images]).toEqual([10, 12, 13]);
    expect([...set.labels]).toEqual([0, 1, 1]);
    expect(set.classNames).toEqual(unlabeled.classNames);
  });
});
