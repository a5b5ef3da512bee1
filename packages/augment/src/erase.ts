import type { Rng } from '@convkit/core';
import type { CropParams } from './geometric.js';
import type { ImageShape, ImageTransform, RawImage } from './transform.js';
import { checkAtLeast, checkPositiveInteger, checkUnit, transformBase } from './transform.js';

/** Parameters of {@link cutout} and {@link randomErasing}: the erased rectangles, in pixels. */
export interface EraseParams {
  readonly rects: readonly CropParams[];
}

/** Sets every pixel inside `rects` to `fill`; returns a new image. */
export function applyErase(image: RawImage, params: EraseParams, fill = 0): RawImage {
  const data = image.data.slice();
  const { width, channels } = image;
  for (const rect of params.rects) {
    for (let y = rect.top; y < rect.top + rect.height; y++) {
      data.fill(fill, (y * width + rect.left) * channels, (y * width + rect.left + rect.width) * channels);
    }
  }
  return { ...image, data };
}

/** Options of {@link cutout}. */
export interface CutoutOptions {
  /** Number of squares. Defaults to 1. */
  holes?: number;
  /** Side of each square as a fraction of the image's shorter side. Defaults to 0.25. */
  size?: number;
  /** Pixel value written into the holes. Defaults to 0. */
  fill?: number;
  /** Defaults to 0.5. */
  p?: number;
}

/** A square of side `side` centred uniformly in the image, clipped to it (DeVries & Taylor's Cutout). */
function square(rng: Rng, shape: ImageShape, side: number): CropParams {
  const cx = rng.int(0, shape.width);
  const cy = rng.int(0, shape.height);
  const left = Math.max(0, cx - Math.floor(side / 2));
  const top = Math.max(0, cy - Math.floor(side / 2));
  return {
    left,
    top,
    width: Math.min(shape.width, cx - Math.floor(side / 2) + side) - left,
    height: Math.min(shape.height, cy - Math.floor(side / 2) + side) - top,
  };
}

/**
 * Erases `holes` squares centred at uniform positions (clipped at the border). `strength` scales the
 * side; 0 erases nothing.
 *
 * @example
 * ```ts
 * const holes = cutout({ holes: 2, size: 0.2, p: 0.5 });
 * ```
 */
export function cutout(options: CutoutOptions = {}): ImageTransform<EraseParams> {
  const holes = checkPositiveInteger('cutout: holes', options.holes ?? 1);
  const size = checkUnit('cutout: size', options.size ?? 0.25);
  const fill = checkFill('cutout', options.fill);
  const base = transformBase('cutout', options.p ?? 0.5);
  return Object.assign(base, {
    sample(rng: Rng, shape: ImageShape): EraseParams {
      const side = Math.round(size * base.strength * Math.min(shape.width, shape.height));
      if (side === 0) return { rects: [] };
      return { rects: Array.from({ length: holes }, () => square(rng, shape, side)) };
    },
    apply: (image: RawImage, params: EraseParams): RawImage => applyErase(image, params, fill),
  });
}

/** Options of {@link randomErasing}. */
export interface RandomErasingOptions {
  /** Range of the erased area as a fraction of the image. Defaults to [0.02, 0.33]. */
  scale?: readonly [number, number];
  /** Range of the erased rectangle's aspect ratio. Defaults to [0.3, 3.3]. */
  ratio?: readonly [number, number];
  /** Pixel value written. Defaults to 0. */
  fill?: number;
  /** Defaults to 0.5. */
  p?: number;
}

function checkFill(name: string, fill: number | undefined): number {
  const value = fill ?? 0;
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new Error(`${name}: fill must be an integer in [0, 255] (received ${String(fill)})`);
  }
  return value;
}

/**
 * Erases one rectangle of random area and aspect ratio inside the image (torchvision
 * `RandomErasing`, ten tries, else nothing). `strength` scales the area.
 *
 * @example
 * ```ts
 * const erase = randomErasing({ scale: [0.02, 0.2], p: 0.5 });
 * ```
 */
export function randomErasing(options: RandomErasingOptions = {}): ImageTransform<EraseParams> {
  const [minScale, maxScale] = options.scale ?? [0.02, 0.33];
  const [minRatio, maxRatio] = options.ratio ?? [0.3, 3.3];
  checkUnit('randomErasing: scale[0]', minScale);
  checkUnit('randomErasing: scale[1]', maxScale);
  checkAtLeast('randomErasing: ratio[0]', minRatio, Number.MIN_VALUE);
  if (!(minScale <= maxScale && minRatio <= maxRatio)) {
    throw new Error(`randomErasing: scale and ratio must be [low, high] ranges (received [${minScale}, ${maxScale}], [${minRatio}, ${maxRatio}])`);
  }
  const fill = checkFill('randomErasing', options.fill);
  const base = transformBase('randomErasing', options.p ?? 0.5);
  return Object.assign(base, {
    sample(rng: Rng, shape: ImageShape): EraseParams {
      const s = base.strength;
      if (s === 0 || maxScale === 0) return { rects: [] };
      const area = shape.width * shape.height;
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = area * s * (maxScale > minScale ? rng.uniform(minScale, maxScale) : minScale);
        const ratio = Math.exp(maxRatio > minRatio ? rng.uniform(Math.log(minRatio), Math.log(maxRatio)) : Math.log(minRatio));
        const w = Math.round(Math.sqrt(target * ratio));
        const h = Math.round(Math.sqrt(target / ratio));
        if (w > 0 && h > 0 && w < shape.width && h < shape.height) {
          return { rects: [{ left: rng.int(0, shape.width - w + 1), top: rng.int(0, shape.height - h + 1), width: w, height: h }] };
        }
      }
      return { rects: [] };
    },
    apply: (image: RawImage, params: EraseParams): RawImage => applyErase(image, params, fill),
  });
}
