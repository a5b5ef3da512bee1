import { createRng } from '@convkit/core';
import { blend, canvasAt, paintBackground, randomColour, uniformIn } from './canvas.js';
import type { ImageDataset } from './dataset.js';
import { createImageDataset } from './dataset.js';

/** Options of {@link markerImages}. */
export interface MarkerImagesOptions {
  /** How many images. */
  count: number;
  /** Height and width of each (square, RGB) image. Defaults to `500`. */
  size?: number;
  /** `[min, max]` side of the marker's square bounding box, in pixels, drawn uniformly. Defaults to `[30, 300]`. */
  markerSize?: readonly [number, number];
  /** How many images without a marker per image with one. Defaults to `2`. */
  ratio?: number;
  /** Seed of everything drawn. Defaults to `0`. */
  seed?: number;
}

/** Whether unit-square point (u, v) ∈ [-0.5, 0.5]² lies on the L glyph: a vertical bar on the left and a foot at the bottom. */
function onGlyph(u: number, v: number): boolean {
  if (u < -0.5 || u > 0.5 || v < -0.5 || v > 0.5) return false;
  return u < -0.2 || v > 0.2;
}

/**
 * Makes an orientation-marker detection dataset: varied backgrounds, one third (by default)
 * of them carrying an L-shaped marker at a random position, scale and rotation.
 *
 * Why: experiment E0.1 asks whether a CNN finds a small artificial marker on cluttered
 * backgrounds and how that depends on marker size; real marked photos are not shareable.
 * Backgrounds are a random two-colour gradient, 0–6 translucent rectangles and uniform
 * noise; the marker is a solid L of random colour with a contrasting 1-pixel outline, so it
 * stays visible on any background. Class 0 is `'no-marker'`, class 1 `'marker'`; exactly
 * `round(count / (ratio + 1))` images have a marker, in a random order. Everything depends
 * only on `seed`.
 *
 * Options: `count` (required), `size` (defaults to `500`), `markerSize` (defaults to
 * `[30, 300]`, clipped to `size`), `ratio` (defaults to `2`), `seed` (defaults to `0`).
 *
 * @returns an RGB {@link ImageDataset} of shape `[size, size, 3]` (no tensors).
 * @throws if `count` or `size` is not a positive integer, `markerSize` is not
 *   `1 ≤ min ≤ max`, or `ratio` is negative.
 * @example
 * ```ts
 * const ds = markerImages({ count: 300, size: 128, markerSize: [12, 60], seed: 1 });
 * classCounts(ds); // [200, 100]
 * await writeImageFolder(ds, 'data/markers'); // to look at them
 * ```
 */
export function markerImages(options: MarkerImagesOptions): ImageDataset {
  const { count, size = 500, markerSize = [30, 300], ratio = 2, seed = 0 } = options;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer (received ${count})`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`size must be a positive integer (received ${size})`);
  if (!Array.isArray(markerSize) || markerSize.length !== 2 || !(markerSize[0] >= 1 && markerSize[0] <= markerSize[1])) {
    throw new Error(`markerSize must be [min, max] with 1 ≤ min ≤ max (received ${JSON.stringify(markerSize)})`);
  }
  if (typeof ratio !== 'number' || !(ratio >= 0)) throw new Error(`ratio must be a non-negative number (received ${ratio})`);
  const rng = createRng(seed);
  const withMarker = Math.round(count / (ratio + 1));
  const labels = Int32Array.from({ length: count }, (_, i) => (i < withMarker ? 1 : 0));
  rng.shuffle(labels);
  const images = new Uint8Array(count * size * size * 3);
  for (let n = 0; n < count; n++) {
    const canvas = canvasAt(images, n, size, size, 3);
    paintBackground(canvas, rng, { rectangles: rng.int(0, 7), noise: rng.uniform(0, 25) });
    if (labels[n] !== 1) continue;
    const side = Math.min(size, uniformIn(rng, markerSize[0], Math.min(markerSize[1], size)));
    const angle = rng.uniform(0, 2 * Math.PI);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const reach = (side * Math.SQRT2) / 2;
    const cy = uniformIn(rng, side / 2, size - side / 2);
    const cx = uniformIn(rng, side / 2, size - side / 2);
    const colour = randomColour(rng, 3);
    const outline = colour.map((v) => (v < 128 ? 255 : 0));
    const inside = (y: number, x: number): boolean => {
      const dy = y + 0.5 - cy;
      const dx = x + 0.5 - cx;
      return onGlyph((dx * cos + dy * sin) / side, (-dx * sin + dy * cos) / side);
    };
    const top = Math.max(0, Math.floor(cy - reach) - 1);
    const bottom = Math.min(size - 1, Math.ceil(cy + reach) + 1);
    const left = Math.max(0, Math.floor(cx - reach) - 1);
    const right = Math.min(size - 1, Math.ceil(cx + reach) + 1);
    for (let y = top; y <= bottom; y++) {
      for (let x = left; x <= right; x++) {
        if (inside(y, x)) blend(canvas, y, x, colour);
        else if (inside(y - 1, x) || inside(y + 1, x) || inside(y, x - 1) || inside(y, x + 1)) blend(canvas, y, x, outline);
      }
    }
  }
  return createImageDataset({ images, labels, shape: [size, size, 3], classNames: ['no-marker', 'marker'], source: `markerImages(seed ${seed})` });
}
