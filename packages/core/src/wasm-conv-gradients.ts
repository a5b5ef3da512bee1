import * as tf from '@tensorflow/tfjs';
import { callWasmKernel, checkFormat, convInfo, explicitPad, free, type ConvBackpropAttrs, type KernelArgs } from './wasm-kernel-call.js';
import { installKernelProviders, setKernelProvider, type KernelProvider } from './kernel-registry.js';
import { WASM_IDENTITY_PROVIDER } from './wasm-identity.js';
import { WASM_MATMUL_PROVIDER } from './wasm-matmul.js';
import { conv2dBackpropInputByPhases } from './wasm-conv-phases.js';
import { POOL_GRADIENT_KERNELS } from './wasm-pool-gradients.js';
import { DEPTHWISE_GRADIENT_KERNELS } from './wasm-depthwise-gradients.js';
import { ACTIVATION_GRADIENT_KERNELS } from './wasm-activation-gradients.js';
import { SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL, WASM_SOFTMAX_CROSS_ENTROPY_KERNELS } from './softmax-cross-entropy.js';
import { installReluGradient } from './relu-gradient.js';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

/**
 * dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + kh·d − padTop, ow·s + kw·d − padLeft, ci] · dy[n, oh, ow, co],
 * computed as one forward convolution of x (as [inC, H, W, N]) with dy (as [OH, OW, N, outC]) using
 * stride d and dilation s, then transposed back to [KH, KW, inC, outC], with the kernels of `backendName`
 * (wasm: XNNPACK's convolution; webgpu: its tiled matrix-product convolution). NHWC only.
 */
export function filterGradientByConvolution(args: KernelArgs, backendName: string): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: number[] };
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const call = (name: string, named: Record<string, TensorInfo>, kernelAttrs: object): TensorInfo =>
    callWasmKernel(name, named, backend, kernelAttrs, backendName);
  const info = convInfo(x.shape, attrs.filterShape, attrs, false);
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, inChannels, outChannels } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;

  const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  // Pad bottom/right just enough for a KH×KW output; the original padding only ever adds zeros.
  const bottom = Math.max(0, (filterHeight - 1) * dilationHeight + (outHeight - 1) * strideHeight + 1 - inHeight - top);
  const right = Math.max(0, (filterWidth - 1) * dilationWidth + (outWidth - 1) * strideWidth + 1 - inWidth - left);
  let product = call('Conv2D', { x: xT, filter: dyT }, {
    strides: [dilationHeight, dilationWidth],
    dilations: [strideHeight, strideWidth],
    pad: explicitPad(top, bottom, left, right),
    dataFormat: 'NHWC',
  });
  free(backend, xT, dyT);
  if (product.shape[1] !== filterHeight || product.shape[2] !== filterWidth) {
    const sliced = call('Slice', { x: product }, {
      begin: [0, 0, 0, 0],
      size: [inChannels, filterHeight, filterWidth, outChannels],
    });
    free(backend, product);
    product = sliced;
  }
  const dW = call('Transpose', { x: product }, { perm: [1, 2, 0, 3] });
  free(backend, product);
  return dW;
}

function conv2dBackpropFilter(args: KernelArgs): TensorInfo {
  checkFormat('Conv2DBackpropFilter', (args.attrs as { dataFormat?: string } | undefined)?.dataFormat);
  return filterGradientByConvolution(args, 'wasm');
}

/**
 * dX[n, h, w, ci] = Σ_{kh, kw, co} dyUp[n, h + kh·d − p'T, w + kw·d − p'L, co] · W[KH−1−kh, KW−1−kw, ci, co],
 * a forward convolution (dilation d, stride 1) of dy with stride−1 zeros inserted, with the filter
 * rotated 180° and transposed to [KH, KW, outC, inC]; p'T = (KH−1)·d − padTop, bottom/right chosen
 * so the output is exactly H×W (negative pads crop dy instead).
 */
function conv2dBackpropInput(args: KernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: number[] };
  const dy = inputs['dy'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  checkFormat('Conv2DBackpropInput', attrs.dataFormat);
  const info = convInfo(attrs.inputShape, filter.shape, attrs, false);
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const reachHeight = (filterHeight - 1) * dilationHeight;
  const reachWidth = (filterWidth - 1) * dilationWidth;
  const upHeight = (outHeight - 1) * strideHeight + 1;
  const upWidth = (outWidth - 1) * strideWidth + 1;
  const top = reachHeight - info.padInfo.top;
  const left = reachWidth - info.padInfo.left;
  const bottom = inHeight - upHeight - top + reachHeight;
  const right = inWidth - upWidth - left + reachWidth;

  if (strideHeight > 1 || strideWidth > 1) return conv2dBackpropInputByPhases(dy, filter, backend, info);
  // Stride 1: negative pads crop dy instead.
  const cropped =
    top < 0 || bottom < 0 || left < 0 || right < 0
      ? callWasmKernel('Slice', { x: dy }, backend, {
          begin: [0, Math.max(0, -top), Math.max(0, -left), 0],
          size: [dy.shape[0], upHeight - Math.max(0, -top) - Math.max(0, -bottom), upWidth - Math.max(0, -left) - Math.max(0, -right), dy.shape[3]],
        })
      : dy;
  const reversed = callWasmKernel('Reverse', { x: filter }, backend, { dims: [0, 1] });
  const rotated = callWasmKernel('Transpose', { x: reversed }, backend, { perm: [0, 1, 3, 2] });
  free(backend, reversed);
  const dx = callWasmKernel('Conv2D', { x: cropped, filter: rotated }, backend, {
    strides: [1, 1],
    dilations: [dilationHeight, dilationWidth],
    pad: explicitPad(Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)),
    dataFormat: 'NHWC',
  });
  free(backend, rotated);
  if (cropped !== dy) free(backend, cropped);
  return dx;
}

/** convkit's gradient kernels on wasm, as a kernel provider (below oneDNN's, above tfjs's stock kernels). */
export const WASM_GRADIENT_PROVIDER: KernelProvider = {
  name: 'wasm-gradients',
  label: 'convkit-wasm',
  backend: 'wasm',
  priority: 100,
  kernels: Object.fromEntries(
    [
      { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilter },
      { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2dBackpropInput },
      ...POOL_GRADIENT_KERNELS,
      ...DEPTHWISE_GRADIENT_KERNELS,
      ...ACTIVATION_GRADIENT_KERNELS,
      { kernelName: SOFTMAX_CROSS_ENTROPY_KERNEL, kernelFunc: WASM_SOFTMAX_CROSS_ENTROPY_KERNELS.forward },
      { kernelName: SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, kernelFunc: WASM_SOFTMAX_CROSS_ENTROPY_KERNELS.backward },
    ].map(({ kernelName, kernelFunc }) => [kernelName, kernelFunc as (args: KernelArgs) => TensorInfo]),
  ),
};

/**
 * Registers convkit's convolution gradient kernels for the `wasm` backend: `Conv2DBackpropFilter`
 * (missing from @tensorflow/tfjs-backend-wasm 4.22, so training a conv net on wasm fails without
 * it) and `Conv2DBackpropInput` (the stock one is a slow scalar loop).
 *
 * Why: both gradients are forward convolutions in disguise, and the wasm backend's forward
 * `Conv2D` runs on XNNPACK. The kernels call the backend's own `Conv2D`, `Transpose`, `Reverse`,
 * `PadV2`, `Slice` and `Reshape` kernels and free every intermediate. They support every stride
 * and padding (`'same'`, `'valid'`, a number, explicit pads) and `dimRoundingMode` that `tf.conv2d`
 * accepts, in NHWC (NCHW throws). They also honour a `dilations` attribute, which tfjs's own
 * gradient never passes (tfjs refuses conv gradients with dilation > 1).
 *
 * For stride > 1, `Conv2DBackpropInput` runs one stride-1 convolution per output phase (no work on inserted zeros).
 * It also registers `MaxPoolGrad` (first maximum wins, as on cpu) and `AvgPoolGrad` as channel-innermost loops over
 * the wasm heap; the stock `MaxPoolGrad` is a scalar loop that took a quarter of a W1 training step.
 *
 * It also registers `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter` (both missing from
 * the stock backend) as XNNPACK depthwise convolutions, for every stride, padding, depth multiplier and dilation.
 *
 * It also registers `ConvkitReluGrad` (relu's gradient in one pass; `Relu`'s gradient runs it wherever a backend has it,
 * see `installReluGradient`), and replaces `BatchMatMul` with a fast path for transposed products (every dense layer's gradient uses
 * them; the stock kernel runs them 8–15× slower than plain ones), and `Identity` and same-dtype `Cast` with a shared
 * buffer instead of a copy (the stock kernels copy every tensor the gradient tape saves, and relu's mask).
 *
 * {@link initBackend} calls this when it picks wasm. Calling it again is a no-op. Makes no tensors.
 *
 * Since the kernel registry, this is a thin wrapper: it declares three kernel providers on `'wasm'`
 * (`'wasm-gradients'`, `'wasm-matmul'` and `'wasm-identity'`, all listed as `convkit-wasm`) and installs the registry there, which
 * stacks them under oneDNN's (`'native'`) and over tfjs's stock kernels. See `listKernelAssignments('wasm')`.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * await tf.setBackend('wasm');
 * registerWasmGradientKernels();
 * const grad = tf.grad((w: tf.Tensor4D) => tf.conv2d(x, w, 1, 'same').sum()); // now runs on wasm
 * ```
 */
export function registerWasmGradientKernels(): void {
  setKernelProvider(WASM_GRADIENT_PROVIDER);
  setKernelProvider(WASM_MATMUL_PROVIDER);
  setKernelProvider(WASM_IDENTITY_PROVIDER);
  installReluGradient();
  installKernelProviders('wasm');
}
