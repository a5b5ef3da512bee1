import { describe, expect, it } from 'vitest';
import { classCounts } from './dataset.js';
import { knifeFrames } from './knife-frames.js';

describe('knifeFrames', () => {
  it('masks exactly the knife pixels: those with every channel above 200', () => {
    const ds = knifeFrames({ count: 8, size: 24, seed: 1 });
    expect(ds.shape).toEqual([24, 24, 3]);
    expect(ds.masks.length).toBe(8 * 24 * 24);
    for (let n = 0; n < ds.length; n++) {
      let knifePixels = 0;
      for (let p = 0; p < 24 * 24; p++) {
        const at = (n * 24 * 24 + p) * 3;
        const bright = ds.images[at]! > 200 && ds.images[at + 1]! > 200 && ds.images[at + 2]! > 200;
        expect(ds.masks[n * 24 * 24 + p]).toBe(bright ? 1 : 0);
        knifePixels += bright ? 1 : 0;
      }
      if (ds.labels[n] === 1) {
        expect(knifePixels).toBeGreaterThanOrEqual(3);
        expect(knifePixels).toBeLessThanOrEqual(18);
      } else {
        expect(knifePixels).toBe(0);
      }
    }
  });

  it('draws each knife as a diagonal run: every knife pixel has a diagonal knife neighbour', () => {
    const ds = knifeFrames({ count: 6, size: 16, knifeProbability: 1, seed: 4 });
    expect(classCounts(ds)).toEqual([0, 6]);
    for (let n = 0; n < 6; n++) {
      const mask = ds.masks.subarray(n * 256, (n + 1) * 256);
      for (let p = 0; p < 256; p++) {
        if (!mask[p]) continue;
        const y = Math.floor(p / 16);
        const x = p % 16;
        const diagonal = [[-1, -1], [-1, 1], [1, -1], [1, 1]].some(
          ([dy, dx]) => y + dy! >= 0 && y + dy! < 16 && x + dx! >= 0 && x + dx! < 16 && mask[(y + dy!) * 16 + x + dx!] === 1,
        );
        expect(diagonal).toBe(true);
      }
    }
  });

  it('is determined by its seed and follows knifeProbability', () => {
    const a = knifeFrames({ count: 40, size: 8, seed: 5 });
    const b = knifeFrames({ count: 40, size: 8, seed: 5 });
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(Buffer.from(a.masks).equals(Buffer.from(b.masks))).toBe(true);
    const counts = classCounts(a);
    expect(counts[1]).toBeGreaterThan(8); // Binomial(40, 0.5): 20 ± 5 σ-ish, far from 0 and 40
    expect(counts[1]).toBeLessThan(32);
    expect(classCounts(knifeFrames({ count: 10, size: 8, knifeProbability: 0, seed: 5 }))).toEqual([10, 0]);
    expect(() => knifeFrames({ count: 1, knifeProbability: 2 })).toThrow('knifeProbability must be a number in [0, 1] (received 2)');
  });
});
