import * as tf from '@tensorflow/tfjs';
import type { TTATransform } from './transform.js';

/** One TTA view: a param of each transform, applied in order (deaugmented in reverse order). */
export interface TTAView {
  /** `transform.name=param` for each step, e.g. `horizontalFlip=true, rotate90=90`. */
  readonly label: string;
  /** Whether every step is invertible for spatial outputs. */
  readonly invertible: boolean;
  /** Applies the view's params in order. Returns a new tensor; the caller disposes it. Does not dispose `x`. */
  augment(x: tf.Tensor4D): tf.Tensor4D;
  /** Undoes the view on a spatial output, in reverse order. Returns a new tensor; does not dispose `y`. */
  deaugment(y: tf.Tensor4D): tf.Tensor4D;
}

function chain(x: tf.Tensor4D, steps: ((t: tf.Tensor4D) => tf.Tensor4D)[]): tf.Tensor4D {
  return tf.tidy(() => steps.reduce((t, step) => step(t), x));
}

/**
 * The views of a transform list: the cartesian product of their params, the first transform's
 * params varying slowest (`views.length` = product of `params.length`).
 *
 * Why: TTA over several transforms predicts every combination once, as ttach's `Compose`; an empty
 * list gives one identity view.
 *
 * @example
 * ```ts
 * compose([horizontalFlip(), rotate90()]).length;  // 8
 * ```
 */
export function compose(transforms: readonly TTATransform[]): TTAView[] {
  let combos: { transform: TTATransform; param: unknown }[][] = [[]];
  transforms.forEach((transform, index) => {
    if (transform === null || typeof transform !== 'object' || !Array.isArray(transform.params)) {
      throw new Error(`transforms[${index}] must be a TTA transform with a params list (received ${String(transform)})`);
    }
    if (transform.params.length === 0) {
      throw new Error(`transforms[${index}] (${transform.name}) must have at least one param (received [])`);
    }
    combos = combos.flatMap((combo) => transform.params.map((param) => [...combo, { transform, param }]));
  });
  return combos.map((steps) => ({
    label: steps.map(({ transform, param }) => `${transform.name}=${JSON.stringify(param)}`).join(', ') || 'identity',
    invertible: steps.every(({ transform }) => transform.invertible),
    augment: (x) => chain(x, steps.map(({ transform, param }) => (t: tf.Tensor4D) => transform.augment(t, param))),
    deaugment: (y) => chain(y, steps.slice().reverse().map(({ transform, param }) => (t: tf.Tensor4D) => transform.deaugment(t, param))),
  }));
}
