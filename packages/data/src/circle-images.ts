import { createRng } from '@convkit/core';
import type { Rng } from '@convkit/core';
import { uniformIn } from './canvas.js';
import type { ImageDataset } from './dataset.js';
import { createImageDataset } from './dataset.js';

/** Options of {@link circleImages}. */
export interface CircleImagesOptions {
  /** How many images. */
  count: number;
  /** Height and width of each (square, grayscale) image. */
  size: number;
  /** `[min, max]` number of circles per image, inclusive; class `k` has `min + k` circles. */
  circles: readonly [number, number];
  /** The radius of every circle, or `[min, max]` to draw each uniformly. */
  radius: number | readonly [number, number];
  /** Uniform background noise of up to this many grey levels (0 = a clean black background). Defaults to `0`. */
  noise?: number;
  /** Seed of everything drawn. Defaults to `0`. */
  seed?: number;
}

interface Circle {
  y: number;
  x: number;
  r: number;
}

/** Places `n` circles that neither overlap nor touch (a gap of at least 2 pixels), or returns undefined. */
function place(rng: Rng, n: number, size: number, radius: readonly [number, number]): Circle[] | undefined {
  const circles: Circle[] = [];
  for (let attempt = 0; circles.length < n; attempt++) {
    if (attempt > 200 * n) return undefined;
    const r = uniformIn(rng, radius[0], radius[1]);
    if (2 * r + 2 > size) return undefined;
    const y = uniformIn(rng, r + 1, size - r - 1);
    const x = uniformIn(rng, r + 1, size - r - 1);
    if (circles.every((c) => Math.hypot(c.y - y, c.x - x) > c.r + r + 2)) circles.push({ y, x, r });
  }
  return circles;
}

/**
 * Makes a counting dataset: bright filled discs on a dark background, labelled by how many
 * there are.
 *
 * Why: experiment E4.1 asks whether a CNN can count (1–5 circles) and whether that breaks
 * down for large counts (45–50). Circles never overlap or touch, so the count is exactly the
 * number of connected bright regions. Class `k` holds images with `circles[0] + k` circles;
 * the classes are balanced (they differ by at most one image) and shuffled. Pixels are 255
 * inside a circle (pixel centre within the radius) and background noise in `[0, noise]`
 * elsewhere.
 *
 * Options: `count`, `size`, `circles`, `radius` (all required), `noise` (defaults to `0`),
 * `seed` (defaults to `0`).
 *
 * @returns a grayscale {@link ImageDataset} of shape `[size, size, 1]` with class names
 *   `'1'`, `'2'`, … (the circle counts); no tensors.
 * @throws if an option is out of range, or the circles cannot be placed without overlap
 *   (too many or too large for `size`).
 * @example
 * ```ts
 * const few = circleImages({ count: 1000, size: 64, circles: [1, 5], radius: [3, 8], seed: 0 });
 * const many = circleImages({ count: 600, size: 128, circles: [45, 50], radius: 4, seed: 0 });
 * ```
 */
export function circleImages(options: CircleImagesOptions): ImageDataset {
  const { count, size, circles, noise = 0, seed = 0 } = options;
  const radius: readonly [number, number] = typeof options.radius === 'number' ? [options.radius, options.radius] : options.radius;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer (received ${count})`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`size must be a positive integer (received ${size})`);
  if (!Array.isArray(circles) || circles.length !== 2 || !circles.every(Number.isInteger) || !(circles[0] >= 1 && circles[0] <= circles[1])) {
    throw new Error(`circles must be [min, max], integers with 1 ≤ min ≤ max (received ${JSON.stringify(circles)})`);
  }
  if (!Array.isArray(radius) || radius.length !== 2 || !(radius[0] >= 1 && radius[0] <= radius[1])) {
    throw new Error(`radius must be a number ≥ 1 or [min, max] with 1 ≤ min ≤ max (received ${JSON.stringify(options.radius)})`);
  }
  if (typeof noise !== 'number' || !(noise >= 0 && noise < 255)) throw new Error(`noise must be a number in [0, 255) (received ${noise})`);
  const rng = createRng(seed);
  const numClasses = circles[1] - circles[0] + 1;
  const labels = rng.shuffle(Int32Array.from({ length: count }, (_, i) => i % numClasses));
  const images = new Uint8Array(count * size * size);
  for (let n = 0; n < count; n++) {
    const wanted = circles[0] + (labels[n] as number);
    let placed: Circle[] | undefined;
    for (let tries = 0; tries < 20 && placed === undefined; tries++) placed = place(rng, wanted, size, radius);
    if (placed === undefined) {
      throw new Error(`circleImages: ${wanted} circles of radius ${JSON.stringify(options.radius)} do not fit apart in a ${size}×${size} image; use a larger size or smaller radius`);
    }
    const image = images.subarray(n * size * size, (n + 1) * size * size);
    if (noise > 0) for (let i = 0; i < image.length; i++) image[i] = Math.floor(rng.next() * (noise + 1));
    for (const { y, x, r } of placed) {
      for (let py = Math.floor(y - r); py <= Math.ceil(y + r); py++) {
        for (let px = Math.floor(x - r); px <= Math.ceil(x + r); px++) {
          if (py >= 0 && px >= 0 && py < size && px < size && Math.hypot(py + 0.5 - y, px + 0.5 - x) <= r) image[py * size + px] = 255;
        }
      }
    }
  }
  return createImageDataset({
    images,
    labels,
    shape: [size, size, 1],
    classNames: Array.from({ length: numClasses }, (_, k) => String(circles[0] + k)),
    source: `circleImages(seed ${seed})`,
  });
}
