// @convkit/augment: seeded, replayable augmentation on decoded images (sharp) and batched tensors.
export { applyRecorded, sampleTransform } from './transform.js';
export type { AffineMap, ColorMap, ImageShape, ImageTransform, RawImage, Recorded, Transform } from './transform.js';
export { compose, sequential, oneOf, someOf } from './compose.js';
export type { Container, ContainerOptions, Plan, SomeOfOptions } from './compose.js';
export { warpAffine, checkRawImage } from './warp.js';
export { horizontalFlip, verticalFlip, rotate, shiftScaleRotate, zoom, randomCrop, randomResizedCrop } from './geometric.js';
export type {
  CropParams,
  FlipOptions,
  FlipParams,
  RandomCropOptions,
  RandomResizedCropOptions,
  RotateOptions,
  RotateParams,
  ShiftScaleRotateOptions,
  ShiftScaleRotateParams,
  ZoomOptions,
} from './geometric.js';
export { colorJitter, brightness, contrast, saturation, hue, gaussianNoise, blur } from './color.js';
export type { BlurOptions, ColorJitterOptions, ColorJitterParams, GaussianNoiseOptions, GaussianNoiseParams, JitterAmountOptions } from './color.js';
export { cutout, randomErasing } from './erase.js';
export type { CutoutOptions, EraseParams, RandomErasingOptions } from './erase.js';
export { batchTransform, batchFlip, batchAffine, batchColor, batchNoise, batchCutout } from './batch-transforms.js';
export type { BatchAffineOptions, BatchAffineParams, BatchColorOptions, BatchFlipOptions, TensorTransform } from './batch-transforms.js';
export { mixup, cutmix, mixBatch, mixPlugin, sampleBeta } from './mix.js';
export type { MixParams, MixTransform } from './mix.js';
export { softHarshSoft, augmentStrength, progressiveAugmentation, AUGMENT_ORDER } from './strength.js';
export type { HasStrength, ProgressiveAugmentationOptions, Schedule, SoftHarshSoftOptions, StrengthPlugin } from './strength.js';
export { decodeImage, imageSize, imagesToTensor } from './sharp-io.js';
export type { DecodeOptions, ImageInput } from './sharp-io.js';
export { imagePipeline } from './image-pipeline.js';
export type { ImagePipeline, ImagePipelineOptions } from './image-pipeline.js';
