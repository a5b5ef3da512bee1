import { crops, fiveCrops } from './crop-transforms.js';
import { horizontalFlip, rotate90, verticalFlip } from './flip-transforms.js';
import type { TTATransform } from './transform.js';

/**
 * Horizontal and vertical flips: 4 views.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, flips(), { merge: 'mean' });
 * ```
 */
export function flips(): TTATransform[] {
  return [horizontalFlip(), verticalFlip()];
}

/**
 * The 8 symmetries of the square (dihedral group D4): horizontal flip × four 90° rotations.
 *
 * @example
 * ```ts
 * const tta = withTTA(segmenter, d4(), { merge: 'mean', output: 'spatial' });
 * ```
 */
export function d4(): TTATransform[] {
  return [horizontalFlip(), rotate90()];
}

/**
 * Horizontal flip × crops of one size: with the default five positions, the classic 10-crop TTA.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, flipsAndCrops({ size: 24 }), { merge: 'mean', output: 'probabilities' });
 * ```
 */
export function flipsAndCrops(options: { size: number | readonly [number, number]; positions?: Parameters<typeof crops>[0]['positions'] }): TTATransform[] {
  return [horizontalFlip(), options.positions ? crops(options) : fiveCrops(options)];
}
