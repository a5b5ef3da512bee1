import type { Rng } from '@convkit/core';
import type { AffineMap, ImageShape, ImageTransform, RawImage } from './transform.js';
import { checkAtLeast, checkPositiveInteger, checkUnit, transformBase } from './transform.js';
import { warpAffine } from './warp.js';

type Matrix = AffineMap['matrix'];

/** Inverse map of a rotation by `degrees` (counter-clockwise on screen), then scale, then shift, about the centre. */
function centredAffine(shape: ImageShape, degrees: number, scale: number, dx: number, dy: number): AffineMap {
  const { width, height } = shape;
  const theta = (degrees * Math.PI) / 180;
  // Round to exact values for quarter turns so 90° rotations reproduce pixels exactly.
  const cos = Math.round(Math.cos(theta) * 1e12) / 1e12 / scale;
  const sin = Math.round(Math.sin(theta) * 1e12) / 1e12 / scale;
  const cx = width / 2;
  const cy = height / 2;
  const ox = cx + dx * width;
  const oy = cy + dy * height;
  // input = R⁻¹ (output − centre − shift) / scale + centre, with y pointing down.
  const matrix: Matrix = [cos, sin, cx - cos * ox - sin * oy, -sin, cos, cy + sin * ox - cos * oy];
  return { matrix, width, height };
}

function warpWith<P>(affine: (shape: ImageShape, params: P) => AffineMap): (image: RawImage, params: P) => RawImage {
  return (image, params) =>
    warpAffine(image, affine({ height: image.height, width: image.width, channels: image.channels }, params));
}

function symmetric(rng: Rng, limit: number): number {
  return limit > 0 ? rng.uniform(-limit, limit) : 0;
}

/** Options of {@link horizontalFlip} and {@link verticalFlip}. */
export interface FlipOptions {
  /** Probability of a flip. Defaults to 0.5. */
  p?: number;
}

/** Parameters of a flip: whether it flips (strength < 1 makes some draws keep the image). */
export interface FlipParams {
  readonly flipped: boolean;
}

function flip(name: string, horizontal: boolean, options: FlipOptions): ImageTransform<FlipParams> {
  const base = transformBase(name, options.p ?? 0.5);
  const affine = (shape: ImageShape, params: FlipParams): AffineMap => {
    const { width, height } = shape;
    if (!params.flipped) return { matrix: [1, 0, 0, 0, 1, 0], width, height };
    const matrix: Matrix = horizontal ? [-1, 0, width, 0, 1, 0] : [1, 0, 0, 0, -1, height];
    return { matrix, width, height };
  };
  return Object.assign(base, {
    sample(rng: Rng): FlipParams {
      const s = base.strength;
      return { flipped: s >= 1 ? true : s <= 0 ? false : rng.next() < s };
    },
    affine,
    apply: warpWith(affine),
  });
}

/**
 * Mirrors the image left–right with probability `p`. `strength` scales the chance (0: never flips).
 *
 * @example
 * ```ts
 * const { image } = compose([horizontalFlip({ p: 1 })]).run(raw, new Rng(0));
 * ```
 */
export function horizontalFlip(options: FlipOptions = {}): ImageTransform<FlipParams> {
  return flip('horizontalFlip', true, options);
}

/**
 * Mirrors the image top–bottom with probability `p`. `strength` scales the chance (0: never flips).
 *
 * @example
 * ```ts
 * const upsideDown = verticalFlip({ p: 1 });
 * ```
 */
export function verticalFlip(options: FlipOptions = {}): ImageTransform<FlipParams> {
  return flip('verticalFlip', false, options);
}

/** Options of {@link rotate}. */
export interface RotateOptions {
  /** Largest rotation in degrees; the angle is uniform in ±`degrees × strength`. Defaults to 15. */
  degrees?: number;
  /** Defaults to 1. */
  p?: number;
}

/** Parameters of {@link rotate}: the angle in degrees, counter-clockwise. */
export interface RotateParams {
  readonly angle: number;
}

/**
 * Rotates the image about its centre by a uniform angle in ±`degrees`, keeping its size; corners
 * outside the input become black. Bilinear; a multiple of 90° on a square image is exact.
 *
 * @example
 * ```ts
 * const tilt = rotate({ degrees: 15 });
 * tilt.apply(raw, { angle: 90 }); // a quarter turn
 * ```
 */
export function rotate(options: RotateOptions = {}): ImageTransform<RotateParams> {
  const degrees = checkAtLeast('rotate: degrees', options.degrees ?? 15, 0);
  const base = transformBase('rotate', options.p ?? 1);
  const affine = (shape: ImageShape, params: RotateParams): AffineMap => centredAffine(shape, params.angle, 1, 0, 0);
  return Object.assign(base, {
    sample: (rng: Rng): RotateParams => ({ angle: symmetric(rng, degrees * base.strength) }),
    affine,
    apply: warpWith(affine),
  });
}

/** Options of {@link shiftScaleRotate}. */
export interface ShiftScaleRotateOptions {
  /** Largest shift as a fraction of the side. Defaults to 0.0625. */
  shift?: number;
  /** Largest relative scale change: the scale is uniform in 1 ± `scale`. Defaults to 0.1. */
  scale?: number;
  /** Largest rotation in degrees. Defaults to 45. */
  degrees?: number;
  /** Defaults to 0.5. */
  p?: number;
}

/** Parameters of {@link shiftScaleRotate}: shifts as fractions of the side, scale factor, angle in degrees. */
export interface ShiftScaleRotateParams {
  readonly dx: number;
  readonly dy: number;
  readonly scale: number;
  readonly angle: number;
}

/**
 * Shifts, scales and rotates the image in one affine warp (albumentations `ShiftScaleRotate`);
 * `strength` scales every limit.
 *
 * @example
 * ```ts
 * const jiggle = shiftScaleRotate({ shift: 0.1, scale: 0.2, degrees: 10, p: 0.8 });
 * ```
 */
export function shiftScaleRotate(options: ShiftScaleRotateOptions = {}): ImageTransform<ShiftScaleRotateParams> {
  const shift = checkAtLeast('shiftScaleRotate: shift', options.shift ?? 0.0625, 0);
  const scale = checkUnit('shiftScaleRotate: scale', options.scale ?? 0.1);
  const degrees = checkAtLeast('shiftScaleRotate: degrees', options.degrees ?? 45, 0);
  const base = transformBase('shiftScaleRotate', options.p ?? 0.5);
  const affine = (shape: ImageShape, params: ShiftScaleRotateParams): AffineMap =>
    centredAffine(shape, params.angle, params.scale, params.dx, params.dy);
  return Object.assign(base, {
    sample(rng: Rng): ShiftScaleRotateParams {
      const s = base.strength;
      return {
        dx: symmetric(rng, shift * s),
        dy: symmetric(rng, shift * s),
        scale: 1 + symmetric(rng, Math.min(scale * s, 0.99)),
        angle: symmetric(rng, degrees * s),
      };
    },
    affine,
    apply: warpWith(affine),
  });
}

/** Options of {@link zoom}. */
export interface ZoomOptions {
  /** The zoom factor is uniform in 1 ± `range` (> 1 zooms in). Defaults to 0.2. */
  range?: number;
  /** Defaults to 1. */
  p?: number;
}

/**
 * Zooms in or out about the centre, keeping the size (like Keras `RandomZoom`).
 *
 * @example
 * ```ts
 * const closer = zoom({ range: 0.3 });
 * ```
 */
export function zoom(options: ZoomOptions = {}): ImageTransform<{ readonly scale: number }> {
  const range = checkUnit('zoom: range', options.range ?? 0.2);
  const base = transformBase('zoom', options.p ?? 1);
  const affine = (shape: ImageShape, params: { readonly scale: number }): AffineMap =>
    centredAffine(shape, 0, params.scale, 0, 0);
  return Object.assign(base, {
    sample: (rng: Rng): { readonly scale: number } => ({ scale: 1 + symmetric(rng, Math.min(range * base.strength, 0.99)) }),
    affine,
    apply: warpWith(affine),
  });
}

/** A rectangle in pixels. */
export interface CropParams {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

function cropAffine(outWidth: number, outHeight: number): (shape: ImageShape, params: CropParams) => AffineMap {
  return (_shape, params) => ({
    matrix: [params.width / outWidth, 0, params.left, 0, params.height / outHeight, params.top],
    width: outWidth,
    height: outHeight,
  });
}

/** Options of {@link randomCrop}. */
export interface RandomCropOptions {
  /** Output width in pixels, at most the image's. */
  width: number;
  /** Output height in pixels, at most the image's. */
  height: number;
  /** Defaults to 1. */
  p?: number;
}

/**
 * Cuts a `width × height` region at a uniform position. Throws, naming both sizes, when the crop is
 * larger than the image. Exact (no resampling).
 *
 * @example
 * ```ts
 * const patch = randomCrop({ width: 24, height: 24 });
 * ```
 */
export function randomCrop(options: RandomCropOptions): ImageTransform<CropParams> {
  const width = checkPositiveInteger('randomCrop: width', options?.width);
  const height = checkPositiveInteger('randomCrop: height', options.height);
  const base = transformBase('randomCrop', options.p ?? 1);
  const affine = cropAffine(width, height);
  return Object.assign(base, {
    sample(rng: Rng, shape: ImageShape): CropParams {
      if (width > shape.width || height > shape.height) {
        throw new Error(
          `randomCrop: the crop ${width}×${height} must fit in the image (received an image of ${shape.width}×${shape.height})`
        );
      }
      return { left: rng.int(0, shape.width - width + 1), top: rng.int(0, shape.height - height + 1), width, height };
    },
    affine,
    outputShape: (shape: ImageShape): ImageShape => ({ ...shape, width, height }),
    apply: warpWith(affine),
  });
}

/** Options of {@link randomResizedCrop}. */
export interface RandomResizedCropOptions {
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** Range of the crop's area as a fraction of the image's. Defaults to [0.08, 1]. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height). Defaults to [3/4, 4/3]. */
  ratio?: readonly [number, number];
  /** Defaults to 1. */
  p?: number;
}

/**
 * Crops a random region of random area and aspect ratio and resizes it to `width × height`
 * (torchvision `RandomResizedCrop`: ten tries, then the whole image). `strength` narrows the ranges
 * towards the whole image: at 0 the whole image is resized.
 *
 * @example
 * ```ts
 * const crop = randomResizedCrop({ width: 224, height: 224, scale: [0.08, 1] });
 * ```
 */
export function randomResizedCrop(options: RandomResizedCropOptions): ImageTransform<CropParams> {
  const width = checkPositiveInteger('randomResizedCrop: width', options?.width);
  const height = checkPositiveInteger('randomResizedCrop: height', options.height);
  const [minScale, maxScale] = options.scale ?? [0.08, 1];
  const [minRatio, maxRatio] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1)) {
    throw new Error(`randomResizedCrop: scale must be [low, high] with 0 < low <= high <= 1 (received [${options.scale}])`);
  }
  if (!(minRatio > 0 && minRatio <= maxRatio && Number.isFinite(maxRatio))) {
    throw new Error(`randomResizedCrop: ratio must be [low, high] with 0 < low <= high (received [${options.ratio}])`);
  }
  const base = transformBase('randomResizedCrop', options.p ?? 1);
  const affine = cropAffine(width, height);
  return Object.assign(base, {
    sample(rng: Rng, shape: ImageShape): CropParams {
      const s = base.strength;
      const area = shape.width * shape.height;
      const low = 1 - s * (1 - minScale);
      const high = 1 - s * (1 - maxScale);
      const logLow = s * Math.log(minRatio);
      const logHigh = s * Math.log(maxRatio);
      if (s > 0) {
        for (let attempt = 0; attempt < 10; attempt++) {
          const target = area * (high > low ? rng.uniform(low, high) : low);
          const ratio = Math.exp(logHigh > logLow ? rng.uniform(logLow, logHigh) : logLow);
          const w = Math.round(Math.sqrt(target * ratio));
          const h = Math.round(Math.sqrt(target / ratio));
          if (w > 0 && h > 0 && w <= shape.width && h <= shape.height) {
            return { left: rng.int(0, shape.width - w + 1), top: rng.int(0, shape.height - h + 1), width: w, height: h };
          }
        }
      }
      return { left: 0, top: 0, width: shape.width, height: shape.height };
    },
    affine,
    outputShape: (shape: ImageShape): ImageShape => ({ ...shape, width, height }),
    apply: warpWith(affine),
  });
}
