import * as tf from '@tensorflow/tfjs';
import { checkImageBatch, checkPositiveInteger } from './transform.js';
import type { TTATransform } from './transform.js';

/** A named crop anchor, or explicit `{ top, left }` pixel offsets. */
export type CropPosition = 'center' | 'topLeft' | 'topRight' | 'bottomLeft' | 'bottomRight' | { top: number; left: number };

/** The param of a crop view: its position and the crop's `[height, width]`. */
export interface CropParam {
  position: CropPosition;
  size: readonly [number, number];
}

/** Options of {@link crops}. */
export interface CropsOptions {
  /** The crop's side (square) or `[height, width]` in pixels. Required. */
  size: number | readonly [number, number];
  /** Where to cut, one view each. Defaults to `['center']`. */
  positions?: readonly CropPosition[];
}

const NAMED_POSITIONS = ['center', 'topLeft', 'topRight', 'bottomLeft', 'bottomRight'] as const;

function normaliseSize(size: number | readonly [number, number]): [number, number] {
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  checkPositiveInteger('size (crop height)', height);
  checkPositiveInteger('size (crop width)', width);
  return [height, width];
}

function offsets(position: CropPosition, image: [number, number], crop: readonly [number, number]): [number, number] {
  const [dy, dx] = [image[0] - crop[0], image[1] - crop[1]];
  switch (position) {
    case 'center': return [Math.floor(dy / 2), Math.floor(dx / 2)];
    case 'topLeft': return [0, 0];
    case 'topRight': return [0, dx];
    case 'bottomLeft': return [dy, 0];
    case 'bottomRight': return [dy, dx];
    default: return [position.top, position.left];
  }
}

function cropAt(x: tf.Tensor4D, param: CropParam): tf.Tensor4D {
  checkImageBatch('x', x);
  const image: [number, number] = [x.shape[1], x.shape[2]];
  const [height, width] = param.size;
  if (height > image[0] || width > image[1]) {
    throw new Error(`crop size ${height}x${width} (height x width) is bigger than the image ${image[0]}x${image[1]}; choose a crop no bigger than the image`);
  }
  const [top, left] = offsets(param.position, image, param.size);
  if (top < 0 || left < 0 || top + height > image[0] || left + width > image[1]) {
    throw new Error(`crop position {top: ${top}, left: ${left}} of a ${height}x${width} crop falls outside the image ${image[0]}x${image[1]}`);
  }
  return tf.slice(x, [0, top, left, 0], [-1, height, width, -1]);
}

/**
 * Cuts fixed-size crops at chosen positions: one view per position.
 *
 * Why: a model trained on random crops sees, at test time, the same kind of crop from several
 * places, and averaging them uses the whole image at the training resolution. Crops have no
 * identity param and are not invertible: using them with `output: 'spatial'` throws.
 *
 * Options: `size` (required), the crop's side or `[height, width]`; `positions`, named anchors
 * (`'center'`, `'topLeft'`, `'topRight'`, `'bottomLeft'`, `'bottomRight'`) or `{ top, left }`
 * offsets. Defaults to `['center']`. `augment` throws if the crop is bigger than the image, naming
 * both sizes. It returns a new tensor; the caller disposes it. It does not dispose `x`.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [crops({ size: 24, positions: ['center', 'topLeft'] })], { merge: 'mean' });
 * ```
 */
export function crops(options: CropsOptions): TTATransform<CropParam> {
  const size = normaliseSize(options.size);
  const positions = [...(options.positions ?? ['center'])];
  if (positions.length === 0) throw new Error('positions must list at least one position (received [])');
  for (const position of positions) {
    if (typeof position === 'string' ? !NAMED_POSITIONS.includes(position) : !(Number.isInteger(position.top) && Number.isInteger(position.left) && position.top >= 0 && position.left >= 0)) {
      throw new Error(`positions must each be one of ${NAMED_POSITIONS.join(', ')} or { top, left } non-negative integers (received ${JSON.stringify(position)})`);
    }
  }
  return {
    name: 'crops',
    params: positions.map((position) => ({ position, size })),
    identityParam: undefined,
    invertible: false,
    augment: cropAt,
    deaugment: () => {
      throw new Error('crops are not invertible: a crop cannot be mapped back onto the image for output \'spatial\'');
    },
  };
}

/**
 * The five standard crops (center and the four corners) of one size: 5 views.
 *
 * Why: the classic ten-crop evaluation (with `horizontalFlip()`) of image classifiers.
 * Same contract as {@link crops}.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, [fiveCrops({ size: 24 })], { merge: 'mean', output: 'probabilities' });
 * ```
 */
export function fiveCrops(options: { size: number | readonly [number, number] }): TTATransform<CropParam> {
  return { ...crops({ size: options.size, positions: NAMED_POSITIONS }), name: 'fiveCrops' };
}
