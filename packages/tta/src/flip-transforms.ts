import * as tf from '@tensorflow/tfjs';
import { checkImageBatch } from './transform.js';
import type { TTATransform } from './transform.js';

function flipTransform(name: string, axis: 1 | 2): TTATransform<boolean> {
  const apply = (x: tf.Tensor4D, flip: boolean): tf.Tensor4D => {
    checkImageBatch('x', x);
    return flip ? tf.reverse(x, axis) : tf.clone(x);
  };
  return { name, params: [false, true], identityParam: false, invertible: true, augment: apply, deaugment: apply };
}

/**
 * Mirrors images left-right: params `[false, true]` (two views), `false` is the identity.
 *
 * Why: most natural images keep their class when mirrored, so averaging the two views removes
 * the model's left-right bias. Invertible: the deaugmentation of a flip is the same flip.
 *
 * `augment` / `deaugment` return new tensors; the caller disposes them. They do not dispose inputs.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [horizontalFlip()], { merge: 'mean', output: 'probabilities' });
 * ```
 */
export function horizontalFlip(): TTATransform<boolean> {
  return flipTransform('horizontalFlip', 2);
}

/**
 * Mirrors images top-bottom: params `[false, true]` (two views), `false` is the identity.
 *
 * Why: for top-down imagery (satellite, microscopy) up and down carry no meaning. Invertible.
 *
 * `augment` / `deaugment` return new tensors; the caller disposes them. They do not dispose inputs.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [horizontalFlip(), verticalFlip()], { merge: 'mean' });  // 4 views
 * ```
 */
export function verticalFlip(): TTATransform<boolean> {
  return flipTransform('verticalFlip', 1);
}

/** Options of {@link rotate90}. */
export interface Rotate90Options {
  /** Counter-clockwise angles in degrees, each one of 0, 90, 180, 270. Defaults to `[0, 90, 180, 270]`. */
  angles?: readonly number[];
}

function rotateBy(x: tf.Tensor4D, angle: number): tf.Tensor4D {
  return tf.tidy(() => {
    switch (((angle % 360) + 360) % 360) {
      case 90: return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 1);
      case 180: return tf.reverse(x, [1, 2]);
      case 270: return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 2);
      default: return tf.clone(x);
    }
  });
}

/**
 * Rotates images counter-clockwise by multiples of 90°: one view per angle, 0 is the identity.
 *
 * Why: with flips this gives the 8 symmetries of the square (`d4()`), for imagery with no
 * preferred orientation. Invertible (rotating back by the opposite angle); a non-square image
 * rotated by 90° or 270° becomes width × height, so the model must accept that size.
 *
 * Options: `angles`, counter-clockwise degrees from {0, 90, 180, 270}. Defaults to all four.
 * `augment` / `deaugment` return new tensors; the caller disposes them. They do not dispose inputs.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [rotate90({ angles: [0, 180] })], { merge: 'mean' });  // 2 views
 * ```
 */
export function rotate90(options: Rotate90Options = {}): TTATransform<number> {
  const angles = [...(options.angles ?? [0, 90, 180, 270])];
  if (angles.length === 0) throw new Error('angles must list at least one angle (received [])');
  for (const angle of angles) {
    if (![0, 90, 180, 270].includes(angle)) {
      throw new Error(`angles must each be one of 0, 90, 180, 270 (received ${String(angle)})`);
    }
  }
  return {
    name: 'rotate90',
    params: angles,
    identityParam: angles.includes(0) ? 0 : undefined,
    invertible: true,
    augment: (x, angle) => { checkImageBatch('x', x); return rotateBy(x, angle); },
    deaugment: (y, angle) => { checkImageBatch('y', y); return rotateBy(y, 360 - angle); },
  };
}
