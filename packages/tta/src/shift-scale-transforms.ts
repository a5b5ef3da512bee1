import * as tf from '@tensorflow/tfjs';
import { checkImageBatch, checkPositiveInteger } from './transform.js';
import type { TTATransform } from './transform.js';

/** Options of {@link shifts}. */
export interface ShiftsOptions {
  /** Shift distances in pixels; each adds 4 views (right, left, down, up). Defaults to `[1]`. */
  pixels?: number | readonly number[];
}

/** Shifts `x` by `dy` rows down and `dx` columns right, filling with zeros. Returns a new tensor. */
function shiftBy(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width] = x.shape;
    if (Math.abs(dy) >= height || Math.abs(dx) >= width) return tf.zerosLike(x);
    const padded = tf.pad(x, [[0, 0], [Math.max(dy, 0), Math.max(-dy, 0)], [Math.max(dx, 0), Math.max(-dx, 0)], [0, 0]]);
    return tf.slice(padded, [0, Math.max(-dy, 0), Math.max(-dx, 0), 0], [-1, height, width, -1]);
  });
}

/**
 * Translates images by a few pixels with zero fill: the identity `[0, 0]` plus, for each
 * distance `d`, the views `[0, d]`, `[0, -d]`, `[d, 0]`, `[-d, 0]` (param = `[rows down, columns right]`).
 *
 * Why: softens a model's sensitivity to exact alignment (e.g. digits not centred like the training set).
 * Invertible by shifting back with zero fill: `deaugment(augment(x))` equals `x` except the
 * `d` border pixels shifted out, which come back as zeros.
 *
 * Options: `pixels`, a distance or list of distances (positive integers). Defaults to `[1]` (5 views).
 * `augment` / `deaugment` return new tensors; the caller disposes them. They do not dispose inputs.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [shifts({ pixels: 2 })], { merge: 'mean' });  // 5 views
 * ```
 */
export function shifts(options: ShiftsOptions = {}): TTATransform<readonly [number, number]> {
  const pixels = typeof options.pixels === 'number' ? [options.pixels] : [...(options.pixels ?? [1])];
  if (pixels.length === 0) throw new Error('pixels must list at least one distance (received [])');
  pixels.forEach((distance) => checkPositiveInteger('pixels', distance));
  const params: (readonly [number, number])[] = [[0, 0]];
  for (const d of pixels) params.push([0, d], [0, -d], [d, 0], [-d, 0]);
  return {
    name: 'shifts',
    params,
    identityParam: params[0],
    invertible: true,
    augment: (x, [dy, dx]) => { checkImageBatch('x', x); return shiftBy(x, dy, dx); },
    deaugment: (y, [dy, dx]) => { checkImageBatch('y', y); return shiftBy(y, -dy, -dx); },
  };
}

/** Options of {@link scales}. */
export interface ScalesOptions {
  /** Resize factors, one view each; 1 is the identity. Defaults to `[1, 0.875, 1.125]`. */
  factors?: readonly number[];
  /** Resampling, `'bilinear'` or `'nearest'`. Defaults to `'bilinear'`. */
  interpolation?: 'bilinear' | 'nearest';
}

function resize(x: tf.Tensor4D, height: number, width: number, interpolation: 'bilinear' | 'nearest'): tf.Tensor4D {
  if (x.shape[1] === height && x.shape[2] === width) return tf.clone(x);
  return interpolation === 'nearest' ? tf.image.resizeNearestNeighbor(x, [height, width]) : tf.image.resizeBilinear(x, [height, width]);
}

/**
 * Resizes images by chosen factors: one view per factor (`round(height × factor)` ×
 * `round(width × factor)`); the model must accept those sizes (e.g. global pooling).
 *
 * Why: objects appear at several scales; a fully convolutional model can be averaged across them.
 * Invertible for spatial outputs by resizing back to the input's size: exact for factor 1 and
 * (with `'nearest'`) for integer up-scales, approximate otherwise.
 *
 * Options: `factors` (positive numbers), defaults to `[1, 0.875, 1.125]`; `interpolation`,
 * defaults to `'bilinear'`. `augment` / `deaugment` return new tensors; the caller disposes them.
 *
 * @example
 * ```ts
 * const tta = withTTA(fullyConvolutional, [scales({ factors: [1, 1.25] })], { merge: 'mean', output: 'spatial' });
 * ```
 */
export function scales(options: ScalesOptions = {}): TTATransform<number> {
  const factors = [...(options.factors ?? [1, 0.875, 1.125])];
  const interpolation = options.interpolation ?? 'bilinear';
  if (factors.length === 0) throw new Error('factors must list at least one factor (received [])');
  for (const factor of factors) {
    if (!(Number.isFinite(factor) && factor > 0)) throw new Error(`factors must each be a positive number (received ${String(factor)})`);
  }
  if (interpolation !== 'bilinear' && interpolation !== 'nearest') {
    throw new Error(`interpolation must be 'bilinear' or 'nearest' (received ${JSON.stringify(interpolation)})`);
  }
  // Remember each view's input size so that deaugment restores it exactly.
  let inputSize: [number, number] | undefined;
  return {
    name: 'scales',
    params: factors,
    identityParam: factors.includes(1) ? 1 : undefined,
    invertible: true,
    augment: (x, factor) => {
      checkImageBatch('x', x);
      inputSize = [x.shape[1], x.shape[2]];
      const height = Math.max(1, Math.round(x.shape[1] * factor));
      const width = Math.max(1, Math.round(x.shape[2] * factor));
      return resize(x, height, width, interpolation);
    },
    deaugment: (y, factor) => {
      checkImageBatch('y', y);
      const [height, width] = inputSize ?? [Math.round(y.shape[1] / factor), Math.round(y.shape[2] / factor)];
      return resize(y, height, width, interpolation);
    },
  };
}
