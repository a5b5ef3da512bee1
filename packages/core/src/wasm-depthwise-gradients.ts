// The depthwise convolution's two gradients on the wasm backend, written as XNNPACK depthwise convolutions (the
// stock @tensorflow/tfjs-backend-wasm 4.22 has neither kernel, so training a depthwise layer on wasm throws).
import * as tf from '@tensorflow/tfjs';
import { callWasmKernel, checkFormat, convInfo, explicitPad, free, type ConvBackpropAttrs, type KernelArgs } from './wasm-kernel-call.js';
import { heapFloats, makeOutput } from './wasm-heap.js';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

function depthwise(x: TensorInfo, filter: TensorInfo, backend: Backend, strides: number[], dilations: number[], pad: number[]): TensorInfo {
  const [top, bottom, left, right] = pad as [number, number, number, number];
  return callWasmKernel('DepthwiseConv2dNative', { x, filter }, backend, {
    strides,
    dilations,
    pad: explicitPad(top, bottom, left, right),
    dataFormat: 'NHWC',
  });
}

function reshape(x: TensorInfo, backend: Backend, shape: number[]): TensorInfo {
  return callWasmKernel('Reshape', { x }, backend, { shape });
}

/** dy with stride − 1 zero rows and columns inserted between its rows and columns (a copy; dy itself for stride 1). */
function insertZeros(dy: TensorInfo, backend: Backend, strideHeight: number, strideWidth: number): TensorInfo {
  if (strideHeight === 1 && strideWidth === 1) return dy;
  const [batch, height, width, channels] = dy.shape as [number, number, number, number];
  const upHeight = (height - 1) * strideHeight + 1;
  const upWidth = (width - 1) * strideWidth + 1;
  const up = makeOutput(backend, [batch, upHeight, upWidth, channels]);
  const target = heapFloats(backend, up, 'DepthwiseConv2dNativeBackpropInput');
  const source = heapFloats(backend, dy, 'DepthwiseConv2dNativeBackpropInput');
  target.fill(0);
  let from = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < height; i++) {
      let to = ((b * upHeight + i * strideHeight) * upWidth) * channels;
      for (let j = 0; j < width; j++) {
        target.set(source.subarray(from, from + channels), to);
        from += channels;
        to += strideWidth * channels;
      }
    }
  }
  return up;
}

/**
 * dx[b, h, w, c] = Σ_{kh, kw, q} dyUp[b, h + kh·d − p'T, w + kw·d − p'L, c·M + q] · W[KH−1−kh, KW−1−kw, c, q]: a
 * stride-1 depthwise convolution (multiplier 1, C·M channels) of dy with stride − 1 zeros inserted, by the 180°-rotated
 * filter, then a sum over each channel's M multiplier outputs. p'T = (KH−1)·d − padTop; negative pads crop dy.
 */
function depthwiseBackpropInput(args: KernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: number[] };
  const dy = inputs['dy'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  checkFormat('DepthwiseConv2dNativeBackpropInput', attrs.dataFormat);
  const info = convInfo(attrs.inputShape, filter.shape, attrs, true);
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = outChannels / inChannels;
  const reachHeight = (filterHeight - 1) * dilationHeight;
  const reachWidth = (filterWidth - 1) * dilationWidth;
  const upHeight = (info.outHeight - 1) * strideHeight + 1;
  const upWidth = (info.outWidth - 1) * strideWidth + 1;
  const top = reachHeight - info.padInfo.top;
  const left = reachWidth - info.padInfo.left;
  const bottom = inHeight - upHeight - top + reachHeight;
  const right = inWidth - upWidth - left + reachWidth;

  const up = insertZeros(dy, backend, strideHeight, strideWidth);
  const cropped =
    top < 0 || bottom < 0 || left < 0 || right < 0
      ? callWasmKernel('Slice', { x: up }, backend, {
          begin: [0, Math.max(0, -top), Math.max(0, -left), 0],
          size: [batchSize, upHeight - Math.max(0, -top) - Math.max(0, -bottom), upWidth - Math.max(0, -left) - Math.max(0, -right), outChannels],
        })
      : up;
  if (cropped !== up && up !== dy) free(backend, up);
  const reversed = callWasmKernel('Reverse', { x: filter }, backend, { dims: [0, 1] });
  const rotated = reshape(reversed, backend, [filterHeight, filterWidth, outChannels, 1]);
  free(backend, reversed);
  const pads = [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)];
  const spread = depthwise(cropped, rotated, backend, [1, 1], [dilationHeight, dilationWidth], pads);
  free(backend, rotated);
  if (cropped !== dy) free(backend, cropped);
  if (multiplier === 1) return spread;
  const grouped = reshape(spread, backend, [batchSize, inHeight, inWidth, inChannels, multiplier]);
  free(backend, spread);
  const dx = callWasmKernel('Sum', { x: grouped }, backend, { axis: [4], keepDims: false });
  free(backend, grouped);
  return dx;
}

/**
 * dW[kh, kw, c, q] = Σ_{b, oh, ow} x[b, oh·s + kh·d − padTop, ow·s + kw·d − padLeft, c] · dy[b, oh, ow, c·M + q]: one
 * depthwise convolution of x as [1, H, W, B·C] (batch and channel folded into B·C channels) by dy as an
 * [OH, OW, B·C, M] filter, with stride d and dilation s, then a sum over the batch.
 */
function depthwiseBackpropFilter(args: KernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: number[] };
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  checkFormat('DepthwiseConv2dNativeBackpropFilter', attrs.dataFormat);
  const info = convInfo(x.shape, attrs.filterShape, attrs, true);
  const { batchSize, inHeight, inWidth, inChannels, outChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const multiplier = outChannels / inChannels;

  const xT = callWasmKernel('Transpose', { x }, backend, { perm: [1, 2, 0, 3] });
  const xFolded = reshape(xT, backend, [1, inHeight, inWidth, batchSize * inChannels]);
  free(backend, xT);
  const dyT = callWasmKernel('Transpose', { x: dy }, backend, { perm: [1, 2, 0, 3] });
  const dyFolded = reshape(dyT, backend, [outHeight, outWidth, batchSize * inChannels, multiplier]);
  free(backend, dyT);
  // Pad bottom/right just enough for a KH×KW output; the original padding only ever adds zeros.
  const bottom = Math.max(0, (filterHeight - 1) * dilationHeight + (outHeight - 1) * strideHeight + 1 - inHeight - top);
  const right = Math.max(0, (filterWidth - 1) * dilationWidth + (outWidth - 1) * strideWidth + 1 - inWidth - left);
  const product = depthwise(xFolded, dyFolded, backend, [dilationHeight, dilationWidth], [strideHeight, strideWidth], [top, bottom, left, right]);
  free(backend, xFolded, dyFolded);
  const [, productHeight, productWidth] = product.shape as [number, number, number, number];
  let perBatch = reshape(product, backend, [productHeight, productWidth, batchSize, outChannels]);
  free(backend, product);
  if (productHeight !== filterHeight || productWidth !== filterWidth) {
    const sliced = callWasmKernel('Slice', { x: perBatch }, backend, {
      begin: [0, 0, 0, 0],
      size: [filterHeight, filterWidth, batchSize, outChannels],
    });
    free(backend, perBatch);
    perBatch = sliced;
  }
  const summed = callWasmKernel('Sum', { x: perBatch }, backend, { axis: [2], keepDims: false });
  free(backend, perBatch);
  const dW = reshape(summed, backend, [filterHeight, filterWidth, inChannels, multiplier]);
  free(backend, summed);
  return dW;
}

/** The depthwise gradient kernels convkit registers on wasm (see registerWasmGradientKernels). */
export const DEPTHWISE_GRADIENT_KERNELS: readonly { kernelName: string; kernelFunc: tf.KernelFunc }[] = [
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseBackpropInput as tf.KernelFunc },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseBackpropFilter as tf.KernelFunc },
];
