import { describe, expect, it } from 'vitest';
import { classCounts } from './dataset.js';
import { markerImages } from './marker-images.js';

describe('markerImages', () => {
  it('is determined by its seed and keeps the without:with ratio', () => {
    const options = { count: 12, size: 32, markerSize: [10, 20] as const, seed: 3 };
    const a = markerImages(options);
    const b = markerImages(options);
    expect(a.shape).toEqual([32, 32, 3]);
    expect(a.classNames).toEqual(['no-marker', 'marker']);
    expect(classCounts(a)).toEqual([8, 4]);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(Buffer.from(b.images).equals(Buffer.from(a.images))).toBe(true);
    const c = markerImages({ ...options, seed: 4 });
    expect(Buffer.from(c.images).equals(Buffer.from(a.images))).toBe(false);
    expect(classCounts(markerImages({ ...options, ratio: 3 }))).toEqual([9, 3]);
  });

  it('draws the marker only on class 1: same seed, same background, the marker changes pixels', () => {
    // With ratio 0 every image has a marker; with a huge ratio none does. The first image's background is drawn
    // from the same stream in both, so the images differ exactly where the marker (and its outline) is.
    const marked = markerImages({ count: 1, size: 40, markerSize: [16, 16], ratio: 0, seed: 9 });
    const plain = markerImages({ count: 1, size: 40, markerSize: [16, 16], ratio: 1e9, seed: 9 });
    expect(marked.labels[0]).toBe(1);
    expect(plain.labels[0]).toBe(0);
    let changed = 0;
    for (let p = 0; p < 40 * 40; p++) {
      if ([0, 1, 2].some((c) => marked.images[p * 3 + c] !== plain.images[p * 3 + c])) changed++;
    }
    // The L covers 1 − 0.7 × 0.7 = 51% of its 16×16 box (≈ 131 pixels), plus a 1-pixel outline.
    expect(changed).toBeGreaterThan(110);
    expect(changed).toBeLessThan(16 * 16 + 4 * 24);
  });

  it('rejects bad options, naming them', () => {
    expect(() => markerImages({ count: 0 })).toThrow('count must be a positive integer (received 0)');
    expect(() => markerImages({ count: 1, markerSize: [5, 2] })).toThrow('markerSize must be [min, max] with 1 ≤ min ≤ max (received [5,2])');
  });
});
