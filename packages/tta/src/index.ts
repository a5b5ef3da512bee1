// @convkit/tta: test-time augmentation. Wrap a model so that predict runs over finite, invertible
// transforms (flips, rotations, crops, shifts, scales) and merges the views.
export { withTTA } from './with-tta.js';
export type { TTACost, TTAModel, TTAOutput, TTAPredictor, WithTTAOptions } from './with-tta.js';
export { MERGE_MODES } from './merge.js';
export type { MergeMode } from './merge.js';
export { compose } from './compose.js';
export type { TTAView } from './compose.js';
export type { TTATransform } from './transform.js';
export { horizontalFlip, rotate90, verticalFlip } from './flip-transforms.js';
export type { Rotate90Options } from './flip-transforms.js';
export { crops, fiveCrops } from './crop-transforms.js';
export type { CropParam, CropPosition, CropsOptions } from './crop-transforms.js';
export { scales, shifts } from './shift-scale-transforms.js';
export type { ScalesOptions, ShiftsOptions } from './shift-scale-transforms.js';
export { d4, flips, flipsAndCrops } from './aliases.js';
