import { describe, expect, it } from 'vitest';
import { circleImages } from './circle-images.js';
import { classCounts } from './dataset.js';

/** Counts 8-connected regions of pixels above 128 in a size×size grayscale image. */
function components(image: Uint8Array, size: number): number {
  const seen = new Uint8Array(size * size);
  let count = 0;
  for (let start = 0; start < image.length; start++) {
    if (seen[start] || (image[start] as number) <= 128) continue;
    count++;
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const p = stack.pop() as number;
      const y = Math.floor(p / size);
      const x = p % size;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const ny = y + dy;
          const nx = x + dx;
          const q = ny * size + nx;
          if (ny >= 0 && nx >= 0 && ny < size && nx < size && !seen[q] && (image[q] as number) > 128) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
  }
  return count;
}

describe('circleImages', () => {
  it('labels each image by its number of circles, recoverable as connected components', () => {
    const ds = circleImages({ count: 10, size: 32, circles: [1, 5], radius: [1, 4], seed: 2 });
    expect(ds.shape).toEqual([32, 32, 1]);
    expect(ds.classNames).toEqual(['1', '2', '3', '4', '5']);
    expect(classCounts(ds)).toEqual([2, 2, 2, 2, 2]);
    for (let n = 0; n < ds.length; n++) {
      expect(components(ds.images.subarray(n * 1024, (n + 1) * 1024), 32)).toBe((ds.labels[n] as number) + 1);
    }
  });

  it('fits many circles, keeps noise below the circles, and is determined by its seed', () => {
    const options = { count: 2, size: 48, circles: [45, 46] as const, radius: 1.5, noise: 40, seed: 7 };
    const ds = circleImages(options);
    for (let n = 0; n < 2; n++) {
      const image = ds.images.subarray(n * 48 * 48, (n + 1) * 48 * 48);
      expect(image.every((v) => v === 255 || v <= 40)).toBe(true);
      expect(components(image, 48)).toBe(45 + (ds.labels[n] as number));
    }
    expect(Buffer.from(circleImages(options).images).equals(Buffer.from(ds.images))).toBe(true);
  });

  it('says when the circles cannot fit', () => {
    expect(() => circleImages({ count: 1, size: 10, circles: [9, 9], radius: 3 })).toThrow(
      'circleImages: 9 circles of radius 3 do not fit apart in a 10×10 image',
    );
  });
});
