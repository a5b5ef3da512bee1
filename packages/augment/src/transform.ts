import type { Rng } from '@convkit/core';

/**
 * A colour step as one affine map per RGB pixel with a mean-grey term: each channel `k` of a pixel becomes
 * `v = matrix[3k]·r + matrix[3k+1]·g + matrix[3k+2]·b + (greyGain[k]·meanGrey + offset[k])`, clamped to
 * [0, 255] and truncated (the rounding's ½ is in `offset`), where `meanGrey` is the image's mean of
 * 0.299 r + 0.587 g + 0.114 b (taken only when a gain is not 0).
 */
export interface ColorMap {
  readonly matrix: readonly number[];
  readonly offset: readonly number[];
  readonly greyGain: readonly number[];
}

/**
 * A decoded image as a raw, interleaved, row-major `Uint8Array` (`height × width × channels`), the
 * format sharp's `.raw()` output and `@convkit/data` datasets use.
 */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** The shape a transform samples its parameters for; `batch` is set for batch (tensor) transforms. */
export interface ImageShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly batch?: number;
}

/**
 * One augmentation, split as in albumentations into chance (`p`), sampling (`sample`) and a pure
 * application (`apply`), so the drawn parameters can be recorded and replayed exactly.
 *
 * - `p`: the probability that the transform applies, in [0, 1].
 * - `strength`: in [0, 1], scales the transform's magnitude (degrees, jitter amount, erased area, or
 *   the chance of a flip); 0 makes it the identity. A plugin may change it during training.
 * - `sample(rng, shape)`: draws the parameters for an input of `shape`, using only `rng`.
 * - `apply(image, params)`: a pure function of its arguments.
 * - `outputShape(shape, params)`: the shape `apply` returns, when it differs from the input's.
 * - `affine(shape, params)`: for geometric transforms, the inverse affine map (output pixel → input
 *   pixel) and output size, so that `compose` can fuse consecutive warps into one resampling.
 * - `batchMatrices(shape, params)`: optional, for geometric batch (tensor) transforms whose output has
 *   the input's shape: per image of the batch, the inverse projective map from an output pixel index
 *   `(x, y)` to the input pixel index it reads, in `tf.image.transform`'s convention
 *   `[a0, a1, a2, b0, b1, b2, c0, c1]`: input `((a0·x + a1·y + a2) / k, (b0·x + b1·y + b2) / k)` with
 *   `k = c0·x + c1·y + 1`. `compose` multiplies the maps of consecutive such steps and applies them
 *   with one `tf.image.transform` call (bilinear, zeros outside), unless every step is a flip (each
 *   row the identity or a mirror), which then keep their exact path.
 * - `children`: the transforms inside a container.
 * - `applyToFloat32(image, params, out, offset, scale)`: optional fast path for the last step of a
 *   pipeline that ends in a float tensor: writes `apply(image, params)`'s values times `scale` into
 *   `out` from `offset` (the same float32 values as applying, then converting) and returns how many
 *   it wrote.
 * - `colorMap(params)`: optional, for colour steps that are one affine map per pixel of an RGB image
 *   (the colour jitters): the map as {@link ColorMap}, so that a decoder can apply it while writing the
 *   floats (@convkit/native's JPEG decoder does, in `imagePipeline`'s `runTensor`). `applyToFloat32`
 *   must then write exactly what the map gives.
 */
export interface Transform<I, P = unknown> {
  readonly name: string;
  p: number;
  strength: number;
  sample(rng: Rng, shape: ImageShape): P;
  apply(image: I, params: P): I;
  outputShape?(shape: ImageShape, params: P): ImageShape;
  affine?(shape: ImageShape, params: P): AffineMap;
  batchMatrices?(shape: ImageShape, params: P): number[][];
  applyToFloat32?(image: I, params: P, out: Float32Array, offset: number, scale: number): number;
  colorMap?(params: P): ColorMap;
  readonly children?: readonly Transform<I>[];
}

/** An inverse affine map: input `(x, y) = (a·u + b·v + c, d·u + e·v + f)` for output pixel centre `(u, v)`. */
export interface AffineMap {
  readonly matrix: readonly [number, number, number, number, number, number];
  readonly width: number;
  readonly height: number;
}

/** A transform on decoded images. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ImageTransform<P = any> = Transform<RawImage, P>;

/**
 * What one transform drew: whether it applied and, if it did, its parameters (for a container, its
 * children's records). JSON-serialisable; {@link applyRecorded} replays it.
 */
export interface Recorded {
  readonly name: string;
  readonly applied: boolean;
  readonly params?: unknown;
}

/** Throws unless `value` is a number in [0, 1]. */
export function checkUnit(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new Error(`${name} must be a number in [0, 1] (received ${String(value)})`);
  }
  return value;
}

/** Throws unless `value` is a finite number >= `min`. */
export function checkAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new Error(`${name} must be a finite number >= ${min} (received ${String(value)})`);
  }
  return value;
}

/** Throws unless `value` is a positive integer. */
export function checkPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer (received ${String(value)})`);
  }
  return value;
}

/**
 * Shared fields of a leaf transform: a validated `p` and `strength` behind accessors, so a bad value
 * set later (by a plugin) is refused with the transform's name.
 */
export function transformBase(name: string, p: number, strength = 1): { name: string; p: number; strength: number } {
  let probability = checkUnit(`${name}: p`, p);
  let magnitude = checkUnit(`${name}: strength`, strength);
  return {
    name,
    get p(): number {
      return probability;
    },
    set p(value: number) {
      probability = checkUnit(`${name}: p`, value);
    },
    get strength(): number {
      return magnitude;
    },
    set strength(value: number) {
      magnitude = checkUnit(`${name}: strength`, value);
    },
  };
}

/**
 * Draws whether `transform` applies (p ≤ 0 never and p ≥ 1 always, without consuming the stream;
 * otherwise one uniform draw), then its parameters, and returns the record.
 *
 * @example
 * ```ts
 * const record = sampleTransform(horizontalFlip({ p: 0.5 }), new Rng(1), { height: 8, width: 8, channels: 3 });
 * ```
 */
export function sampleTransform<I>(transform: Transform<I>, rng: Rng, shape: ImageShape): Recorded {
  const p = transform.p;
  const applied = p >= 1 ? true : p <= 0 ? false : rng.next() < p;
  if (!applied) return { name: transform.name, applied: false };
  return { name: transform.name, applied: true, params: transform.sample(rng, shape) };
}

/**
 * Replays a record made by {@link sampleTransform} (or a container's `sampleAll`): returns `image`
 * unchanged when the transform did not apply, else `transform.apply(image, record.params)`.
 * Throws when the record belongs to a transform of another name.
 */
export function applyRecorded<I>(transform: Transform<I>, image: I, record: Recorded): I {
  if (record.name !== transform.name) {
    throw new Error(`record must belong to transform "${transform.name}" (received a record of "${record.name}")`);
  }
  return record.applied ? transform.apply(image, record.params) : image;
}

/** The shape after `transform` applied with `record` (unchanged when it did not apply). */
export function recordedShape<I>(transform: Transform<I>, shape: ImageShape, record: Recorded): ImageShape {
  if (!record.applied || transform.outputShape === undefined) return shape;
  return transform.outputShape(shape, record.params);
}

/** The shape of a decoded image. */
export function shapeOf(image: RawImage): ImageShape {
  return { height: image.height, width: image.width, channels: image.channels };
}
