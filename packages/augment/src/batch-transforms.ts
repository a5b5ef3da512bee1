import * as tf from '@tensorflow/tfjs';
import { installCpuKernels, type Rng } from '@convkit/core';
import type { CropParams } from './geometric.js';
import type { ImageShape, Recorded, Transform } from './transform.js';
import { checkAtLeast, checkPositiveInteger, checkUnit, sampleTransform, applyRecorded, transformBase } from './transform.js';

/** A transform on a batch of images `[batch, height, width, channels]`; params hold one draw per image. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TensorTransform<P = any> = Transform<tf.Tensor4D, P>;

function batchShape(x: tf.Tensor4D): ImageShape {
  const [batch, height, width, channels] = x.shape;
  return { batch, height, width, channels };
}

function perImage<T>(shape: ImageShape, draw: (index: number) => T): T[] {
  return Array.from({ length: shape.batch ?? 1 }, (_, i) => draw(i));
}

function maybe(rng: Rng, chance: number): boolean {
  return chance >= 1 ? true : chance <= 0 ? false : rng.next() < chance;
}

/**
 * Picks, per image, `a`'s pixels where `flags[i]` and `b`'s elsewhere. The mask is built at the full shape: tfjs's
 * `where` with a `[batch, 1, 1, 1]` condition broadcasts it through a bool `Tile`, which on the wasm backend took
 * 20× longer than the select itself.
 */
function selectImages(flags: readonly boolean[], a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const [batch, height, width, channels] = a.shape;
  const perImage = height * width * channels;
  const mask = new Uint8Array(batch * perImage);
  flags.forEach((flag, i) => {
    if (flag) mask.fill(1, i * perImage, (i + 1) * perImage);
  });
  return tf.where(tf.tensor4d(mask, a.shape, 'bool'), a, b);
}

/**
 * Mirrors every image of the batch: `tf.image.flipLeftRight` horizontally, and vertically the same between two
 * transposes of height and width (on the wasm backend `tf.reverse` over either axis took ~10× as long; same values).
 */
function mirror(x: tf.Tensor4D, direction: 'horizontal' | 'vertical'): tf.Tensor4D {
  if (direction === 'horizontal') return tf.image.flipLeftRight(x);
  return tf.transpose(tf.image.flipLeftRight(tf.transpose(x, [0, 2, 1, 3])), [0, 2, 1, 3]);
}

/** `tf.image.transform`'s row of the identity map. */
const IDENTITY_ROW: readonly number[] = [1, 0, 0, 0, 1, 0, 0, 0];

/**
 * Transforms each image of `x` through its own row (see `Transform.batchMatrices`) in one `tf.image.transform` call,
 * bilinear, zeros outside. Returns a new tensor; the caller disposes it. Does not dispose `x`.
 */
function transformRows(x: tf.Tensor4D, rows: readonly (readonly number[])[]): tf.Tensor4D {
  // One call for the batch (tfjs 4.22's cpu kernel returns after the first image; @convkit/core's cpu-fixes
  // provider replaces it, so every backend transforms the whole batch).
  if (tf.getBackend() === 'cpu') installCpuKernels(); // idempotent; a program that never called initBackend
  return tf.tidy(() => tf.image.transform(x, tf.tensor2d(Float32Array.from(rows.flat()), [rows.length, 8]), 'bilinear', 'constant', 0));
}

/** True when `value` is a float32 batch `[batch, height, width, channels]`, the input {@link fuseBatchGeometry} resamples. */
export function isFloatBatch(value: unknown): value is tf.Tensor4D {
  return value instanceof tf.Tensor && value.rank === 4 && value.dtype === 'float32';
}

/** One applied step of a run of geometric batch transforms: the transform and its record. */
export interface GeometryStep {
  readonly child: Pick<Transform<unknown>, 'name' | 'batchMatrices'>;
  readonly record: Pick<Recorded, 'params'>;
}

/** `tf.image.transform`'s row of a mirror of an image of `shape`. */
function mirrorRow(direction: 'horizontal' | 'vertical', shape: ImageShape): number[] {
  return direction === 'horizontal' ? [-1, 0, shape.width - 1, 0, 1, 0, 0, 0] : [1, 0, 0, 0, -1, shape.height - 1, 0, 0];
}

/** Whether `row` is a flip's: the identity or a mirror (a step whose rows all are has its own exact path). */
function isFlipRow(row: readonly number[], shape: ImageShape): boolean {
  return [IDENTITY_ROW, mirrorRow('horizontal', shape), mirrorRow('vertical', shape)].some((flip) => flip.every((value, i) => row[i] === value));
}

/**
 * `first · second` as 3×3 matrices (rows `[a0, a1, a2]`, `[b0, b1, b2]`, `[c0, c1, 1]`), scaled so the last entry
 * is 1; undefined when that entry is 0 or not finite.
 */
function multiplyRows(first: readonly number[], second: readonly number[]): number[] | undefined {
  const a = [...first, 1];
  const b = [...second, 1];
  const product = Array.from({ length: 9 }, (_, k) => {
    const row = Math.floor(k / 3);
    const column = k % 3;
    return a[3 * row]! * b[column]! + a[3 * row + 1]! * b[3 + column]! + a[3 * row + 2]! * b[6 + column]!;
  });
  const last = product[8]!;
  if (last === 0 || !Number.isFinite(last)) return undefined;
  return product.slice(0, 8).map((value) => value / last);
}

/**
 * Applies a run of geometric batch steps (each with `batchMatrices`) to `x` in one `tf.image.transform` call: when
 * the steps' inverse maps are M1, M2, …, Mn in order, the output is `out(p) = x(M1·M2·…·Mn·p)`, resampled once.
 * Returns undefined, and the caller applies the steps one by one, when every step is a flip (its rows each the
 * identity or a mirror: exact that way, with no resampling) or a composed map is degenerate.
 *
 * @returns A new tensor (the caller disposes it), or undefined. Does not dispose `x`.
 */
export function fuseBatchGeometry(x: tf.Tensor4D, steps: readonly GeometryStep[]): tf.Tensor4D | undefined {
  const shape = batchShape(x);
  const perStep = steps.map(({ child, record }) => {
    const rows = child.batchMatrices!(shape, record.params);
    if (!Array.isArray(rows) || rows.length !== shape.batch || rows.some((row) => !Array.isArray(row) || row.length !== 8)) {
      throw new Error(
        `${child.name}: batchMatrices must return one row of 8 numbers per image of the batch of ${shape.batch} (received ${JSON.stringify(rows)})`
      );
    }
    return rows;
  });
  if (perStep.every((rows) => rows.every((row) => isFlipRow(row, shape)))) return undefined;
  const composed: number[][] = [];
  for (let image = 0; image < shape.batch!; image++) {
    let total: number[] | undefined = [...IDENTITY_ROW];
    for (const rows of perStep) total = total === undefined ? undefined : multiplyRows(total, rows[image]!);
    if (total === undefined) return undefined;
    composed.push(total);
  }
  return transformRows(x, composed);
}

/**
 * Converts a tensor transform into the `DataLoader`'s `transform` option, `(x, rng) => x`: samples
 * the whole transform from the loader's per-batch `rng` and applies it inside `tf.tidy`, so the
 * intermediate tensors of a `compose` of tensor transforms are freed.
 *
 * @returns A function returning a new tensor (the loader disposes the input).
 *
 * @example
 * ```ts
 * new DataLoader(train, { batchSize: 64, transform: batchTransform(compose([batchFlip(), batchAffine()])) });
 * ```
 */
export function batchTransform(transform: TensorTransform): (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D {
  return (x, rng) => tf.tidy(() => applyRecorded(transform, x, sampleTransform(transform, rng, batchShape(x))));
}

/** Options of {@link batchFlip}. */
export interface BatchFlipOptions {
  /** `'horizontal'` (left–right) or `'vertical'`. Defaults to `'horizontal'`. */
  direction?: 'horizontal' | 'vertical';
  /** Chance that each image flips (times `strength`). Defaults to 0.5. */
  chance?: number;
}

/**
 * Flips each image of the batch with probability `chance × strength`, drawn per image.
 * `apply` returns a new tensor; the caller disposes it. Does not dispose its input.
 *
 * @example
 * ```ts
 * const flipped = batchTransform(batchFlip())(x, new Rng(0));
 * ```
 */
export function batchFlip(options: BatchFlipOptions = {}): TensorTransform<{ readonly flipped: boolean[] }> {
  const direction = options.direction ?? 'horizontal';
  if (direction !== 'horizontal' && direction !== 'vertical') {
    throw new Error(`batchFlip: direction must be 'horizontal' or 'vertical' (received ${String(direction)})`);
  }
  const chance = checkUnit('batchFlip: chance', options.chance ?? 0.5);
  const base = transformBase('batchFlip', 1);
  return Object.assign(base, {
    sample: (rng: Rng, shape: ImageShape): { readonly flipped: boolean[] } => ({
      flipped: perImage(shape, () => maybe(rng, chance * base.strength)),
    }),
    apply: (x: tf.Tensor4D, params: { readonly flipped: boolean[] }): tf.Tensor4D =>
      tf.tidy(() => (params.flipped.some((flag) => flag) ? selectImages(params.flipped, mirror(x, direction), x) : x.clone())),
    batchMatrices: (shape: ImageShape, params: { readonly flipped: boolean[] }): number[][] =>
      params.flipped.map((flag) => (flag ? mirrorRow(direction, shape) : [...IDENTITY_ROW])),
  });
}

/** Options of {@link batchAffine}. */
export interface BatchAffineOptions {
  /** Largest shift as a fraction of the side. Defaults to 0.1. */
  shift?: number;
  /** Zoom factor uniform in 1 ± `zoom`. Defaults to 0.1. */
  zoom?: number;
  /** Largest rotation in degrees. Defaults to 0. */
  degrees?: number;
}

/** One image's draw of {@link batchAffine}. */
export interface BatchAffineParams {
  readonly dx: number;
  readonly dy: number;
  readonly scale: number;
  readonly angle: number;
}

/** {@link batchAffine}'s inverse maps in `tf.image.transform`'s pixel-index convention, one row per image. */
function affineRows(shape: ImageShape, params: readonly BatchAffineParams[]): number[][] {
  const { height, width } = shape;
  return params.map(({ dx, dy, scale, angle }) => {
    const t = (angle * Math.PI) / 180;
    const cos = Math.cos(t) / scale;
    const sin = Math.sin(t) / scale;
    const ox = width / 2 + dx * width;
    const oy = height / 2 + dy * height;
    // Inverse map in pixel-centre coordinates, shifted to tf's pixel-index coordinates.
    const a = cos, b = sin, c = width / 2 - cos * ox - sin * oy;
    const d = -sin, e = cos, f = height / 2 + sin * ox - cos * oy;
    return [a, b, a * 0.5 + b * 0.5 + c - 0.5, d, e, d * 0.5 + e * 0.5 + f - 0.5, 0, 0];
  });
}

/**
 * Shifts, zooms and rotates each image about its centre with `tf.image.transform` (bilinear,
 * zeros outside). Returns a new tensor; the caller disposes it. In a `compose`, it and the
 * `batchFlip`s next to it run as one `tf.image.transform` call (see `Transform.batchMatrices`).
 *
 * @example
 * ```ts
 * const jiggle = batchAffine({ shift: 0.1, zoom: 0.1, degrees: 10 });
 * ```
 */
export function batchAffine(options: BatchAffineOptions = {}): TensorTransform<BatchAffineParams[]> {
  const shift = checkAtLeast('batchAffine: shift', options.shift ?? 0.1, 0);
  const zoomRange = checkUnit('batchAffine: zoom', options.zoom ?? 0.1);
  const degrees = checkAtLeast('batchAffine: degrees', options.degrees ?? 0, 0);
  const base = transformBase('batchAffine', 1);
  const sym = (rng: Rng, limit: number): number => (limit > 0 ? rng.uniform(-limit, limit) : 0);
  return Object.assign(base, {
    sample: (rng: Rng, shape: ImageShape): BatchAffineParams[] =>
      perImage(shape, () => {
        const s = base.strength;
        return { dx: sym(rng, shift * s), dy: sym(rng, shift * s), scale: 1 + sym(rng, Math.min(0.99, zoomRange * s)), angle: sym(rng, degrees * s) };
      }),
    apply: (x: tf.Tensor4D, params: BatchAffineParams[]): tf.Tensor4D => transformRows(x, affineRows(batchShape(x), params)),
    batchMatrices: affineRows,
  });
}

/** Options of {@link batchColor}. */
export interface BatchColorOptions {
  /** Brightness factor uniform in 1 ± `brightness`. Defaults to 0.2. */
  brightness?: number;
  /** Contrast factor uniform in 1 ± `contrast` (blend with each image's mean). Defaults to 0.2. */
  contrast?: number;
}

/**
 * Per-image brightness (a factor b) and contrast (a factor c): `x' = c·b·x + (1 − c)·mean(b·x)`,
 * the mean over each image. No clipping (the tensor may be normalised). Returns a new tensor.
 *
 * @example
 * ```ts
 * const lighting = batchColor({ brightness: 0.3, contrast: 0.3 });
 * ```
 */
export function batchColor(options: BatchColorOptions = {}): TensorTransform<{ brightness: number[]; contrast: number[] }> {
  const brightness = checkAtLeast('batchColor: brightness', options.brightness ?? 0.2, 0);
  const contrastAmount = checkAtLeast('batchColor: contrast', options.contrast ?? 0.2, 0);
  const base = transformBase('batchColor', 1);
  const factor = (rng: Rng, amount: number): number => (amount > 0 ? rng.uniform(Math.max(0, 1 - amount), 1 + amount) : 1);
  return Object.assign(base, {
    sample: (rng: Rng, shape: ImageShape): { brightness: number[]; contrast: number[] } => ({
      brightness: perImage(shape, () => factor(rng, brightness * base.strength)),
      contrast: perImage(shape, () => factor(rng, contrastAmount * base.strength)),
    }),
    apply: (x: tf.Tensor4D, params: { brightness: number[]; contrast: number[] }): tf.Tensor4D =>
      tf.tidy(() => {
        const n = params.brightness.length;
        const bright = x.mul(tf.tensor4d(params.brightness, [n, 1, 1, 1]));
        const c = tf.tensor4d(params.contrast, [n, 1, 1, 1]);
        return bright.mul(c).add(bright.mean([1, 2, 3], true).mul(tf.scalar(1).sub(c))) as tf.Tensor4D;
      }),
  });
}

/**
 * Adds normal noise of standard deviation `std × strength` from a recorded seed (`tf.randomNormal`),
 * so a replay is exact. Returns a new tensor.
 *
 * @example
 * ```ts
 * const noisy = batchNoise({ std: 0.05 });
 * ```
 */
export function batchNoise(options: { std?: number } = {}): TensorTransform<{ std: number; seed: number }> {
  const std = checkAtLeast('batchNoise: std', options.std ?? 0.05, 0);
  const base = transformBase('batchNoise', 1);
  return Object.assign(base, {
    sample: (rng: Rng): { std: number; seed: number } => ({ std: std * base.strength, seed: rng.int(0, 0x7fff_ffff) }),
    apply: (x: tf.Tensor4D, params: { std: number; seed: number }): tf.Tensor4D =>
      params.std === 0 ? x.clone() : tf.tidy(() => x.add(tf.randomNormal(x.shape, 0, params.std, 'float32', params.seed))),
  });
}

/**
 * Cutout per image: one square of side `size × strength ×` the shorter side, centred uniformly and
 * clipped, set to 0. Returns a new tensor.
 *
 * @example
 * ```ts
 * const holes = batchCutout({ size: 0.25 });
 * ```
 */
export function batchCutout(options: { size?: number; holes?: number } = {}): TensorTransform<CropParams[][]> {
  const size = checkUnit('batchCutout: size', options.size ?? 0.25);
  const holes = checkPositiveInteger('batchCutout: holes', options.holes ?? 1);
  const base = transformBase('batchCutout', 1);
  return Object.assign(base, {
    sample: (rng: Rng, shape: ImageShape): CropParams[][] =>
      perImage(shape, () => {
        const side = Math.round(size * base.strength * Math.min(shape.width, shape.height));
        if (side === 0) return [];
        return Array.from({ length: holes }, () => {
          const cx = rng.int(0, shape.width);
          const cy = rng.int(0, shape.height);
          const left = Math.max(0, cx - Math.floor(side / 2));
          const top = Math.max(0, cy - Math.floor(side / 2));
          const right = Math.min(shape.width, cx - Math.floor(side / 2) + side);
          const bottom = Math.min(shape.height, cy - Math.floor(side / 2) + side);
          return { left, top, width: right - left, height: bottom - top };
        });
      }),
    apply(x: tf.Tensor4D, params: CropParams[][]): tf.Tensor4D {
      const [n, height, width] = x.shape;
      const mask = new Float32Array(n * height * width).fill(1);
      params.forEach((rects, i) => {
        for (const r of rects) for (let y = r.top; y < r.top + r.height; y++) mask.fill(0, (i * height + y) * width + r.left, (i * height + y) * width + r.left + r.width);
      });
      return tf.tidy(() => x.mul(tf.tensor4d(mask, [n, height, width, 1])));
    },
  });
}
