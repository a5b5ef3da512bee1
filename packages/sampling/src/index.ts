// @convkit/sampling: samplers and losses for imbalanced data.
export type { Sampler } from './sampler.js';
export { WeightedRandomSampler } from './weighted-random-sampler.js';
export type { WeightedRandomSamplerOptions } from './weighted-random-sampler.js';
export { BalancedBatchSampler } from './balanced-batch-sampler.js';
export type { BalancedBatchSamplerOptions } from './balanced-batch-sampler.js';
export { ResamplingSampler, resample, resampleCounts } from './resampling.js';
export type { ResampleMode, ResampleOptions, ResamplingSamplerOptions } from './resampling.js';
export { samplerParams } from './sampler-params.js';
export type { SamplerParamsPlugin } from './sampler-params.js';
export { classWeights, countClasses } from './class-weights.js';
export type { ClassWeightMethod, ClassWeightsOptions } from './class-weights.js';
export { weightedSoftmaxCrossEntropy } from './weighted-cross-entropy.js';
export type { SamplingLoss, WeightedSoftmaxCrossEntropyOptions } from './weighted-cross-entropy.js';
export { focalLoss } from './focal-loss.js';
export type { FocalLossOptions } from './focal-loss.js';
export { maskWeightedMse } from './mask-weighted-mse.js';
export type { MaskWeightedMseOptions } from './mask-weighted-mse.js';
