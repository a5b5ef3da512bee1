// convkit's kernels for tfjs's webgpu backend, as a kernel-registry provider.
import type * as tf from '@tensorflow/tfjs';
import { installKernelProviders, setKernelProvider, type KernelProvider, type NextKernel } from './kernel-registry.js';
import { filterGradientByConvolution } from './wasm-conv-gradients.js';
import type { KernelArgs } from './wasm-kernel-call.js';

/**
 * `Conv2DBackpropFilter` for NHWC float32 (every conv layer's training step) as one forward convolution of the
 * transposed input with the transposed output gradient (see {@link filterGradientByConvolution}), so that it runs on
 * tfjs-webgpu's tiled matrix-product convolution. tfjs's own kernel gives each filter-gradient entry to one GPU thread,
 * which loops over every pixel of the batch alone: measured on lavapipe, 2.3–4.6× slower than this (README "GPU").
 * NCHW and other dtypes go to tfjs's kernel.
 */
function conv2dBackpropFilter(args: KernelArgs, next: NextKernel): tf.TensorInfo | tf.TensorInfo[] {
  const attrs = args.attrs as { dataFormat?: string } | undefined;
  const x = args.inputs['x'] as tf.TensorInfo;
  const dy = args.inputs['dy'] as tf.TensorInfo;
  const nhwc = attrs?.dataFormat === undefined || attrs.dataFormat === 'NHWC';
  if (!nhwc || x.dtype !== 'float32' || dy.dtype !== 'float32') return next(args);
  return filterGradientByConvolution(args, 'webgpu');
}

/** convkit's kernels on webgpu, above tfjs's stock kernels. */
export const WEBGPU_PROVIDER: KernelProvider = {
  name: 'webgpu-kernels',
  label: 'convkit-webgpu',
  backend: 'webgpu',
  priority: 100,
  kernels: { Conv2DBackpropFilter: conv2dBackpropFilter },
};

/**
 * Declares convkit's webgpu provider (`Conv2DBackpropFilter` through the forward convolution, see README "GPU") and
 * installs the kernel registry on the webgpu backend. {@link initBackend} calls it when it picks webgpu. Idempotent. Makes no
 * tensors.
 */
export function installWebGpuKernels(): void {
  setKernelProvider(WEBGPU_PROVIDER);
  installKernelProviders('webgpu');
}
