// @convkit/core: backend selection (with fast wasm convolution gradients), seeded randomness and
// initializers. Test helpers live in '@convkit/core/testing'.
export * as tf from '@tensorflow/tfjs';
export { Rng, createRng } from './rng.js';
export type { RngState } from './rng.js';
export { initBackend } from './backend.js';
export { loadNativeJpegDecoder, loadNativeKernels } from './wasm-native.js';
export { NATIVE_IMAGE_PROVIDER_NAME, registerNativeImageKernels } from './native-image-kernels.js';
export type { BackendAttempt, BackendReport, InitBackendOptions } from './backend.js';
export { BACKEND_NAMES, BACKEND_REQUIREMENTS } from './backend-catalog.js';
export type { BackendName, BackendRequirement } from './backend-catalog.js';
export { registerWasmGradientKernels } from './wasm-conv-gradients.js';
export { RELU_BIAS_GRAD_KERNEL, RELU_GRAD_KERNEL, installReluGradient } from './relu-gradient.js';
export { conv2dLayer, fusedConv2d, installFusedConvGradient } from './fused-conv.js';
export { MAX_POOL_RELU_GRAD_KERNEL, installPoolReluGradient } from './pool-relu-gradient.js';
export { CONV_RELU_POOL_MAX_IN_CHANNELS, Conv2DReluPool, conv2dPoolLayer, conv2dReluPool, installConvReluPoolGradient } from './conv-pool.js';
export type { Conv2DPoolLayerArgs, Conv2dReluPoolArgs } from './conv-pool.js';
export { CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL } from './conv-pool-names.js';
export type { Conv2DLayerArgs, FusedConv2dArgs } from './fused-conv.js';
export { registerWasmOptimizerKernels } from './wasm-optimizer-kernels.js';
export {
  installKernelProviders,
  kernelServedBy,
  listKernelAssignments,
  listKernelProviders,
  removeKernelProvider,
  setKernelProvider,
  summariseKernels,
  withKernelProviders,
} from './kernel-registry.js';
export type {
  KernelAssignment,
  KernelProvider,
  KernelProviderSelection,
  KernelProviderStatus,
  KernelResult,
  NextKernel,
  ProviderKernel,
} from './kernel-registry.js';
export type { KernelArgs } from './wasm-kernel-call.js';
export { installCpuKernels } from './cpu-kernels.js';
export {
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
  installSoftmaxCrossEntropyGradient,
  softmaxCrossEntropyFromLogits,
} from './softmax-cross-entropy.js';
export { assertBackendHealthy, backendDeviceError, describeAdapter, isSoftwareAdapter, probeWebGpu } from './webgpu-backend.js';
export type { WebGpuAdapterInfo, WebGpuProbe } from './webgpu-backend.js';
export {
  computeFans,
  constantScaleNormal,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  lecunNormal,
  ones,
  varianceScaling,
  zeros,
} from './initializers.js';
export type {
  ConstantScaleNormalOptions,
  FanMode,
  Initializer,
  InitializerDistribution,
  VarianceScalingOptions,
} from './initializers.js';
export { toLayersInitializer } from './layers-initializer.js';
export { CUDA_LIBRARIES, DEFAULT_CUDA_DIRS, doctor, formatDoctorReport } from './doctor.js';
export type { DoctorBackend, DoctorLibrary, DoctorOptions, DoctorReport, RunCommand } from './doctor.js';
export type { RequireFunction } from './optional-package.js';
