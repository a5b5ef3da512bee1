// Max- and average-pool gradients for the wasm backend as cache-friendly loops over the heap.
import * as tf from '@tensorflow/tfjs';
import { heapFloats, makeOutput } from './wasm-heap.js';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs?: tf.NamedAttrMap;
}

function poolInfo(input: TensorInfo, attrs: PoolGradAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/**
 * dx[argmax of each window] += dy, where the argmax is the first strictly greatest element in row-major window order
 * (the cpu kernel's rule; a window whose elements are all −∞ or NaN passes no gradient). Channels are the innermost
 * loop, so every read is sequential; the stock wasm kernel walks one channel at a time and is 10–20× slower.
 */
function maxPoolGrad(args: KernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const dy = inputs['dy'] as TensorInfo;
  const input = inputs['input'] as TensorInfo;
  const info = poolInfo(input, attrs);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const out = makeOutput(backend, input.shape);
  const x = heapFloats(backend, input, 'MaxPoolGrad');
  const g = heapFloats(backend, dy, 'MaxPoolGrad');
  const dx = heapFloats(backend, out, 'MaxPoolGrad');
  dx.fill(0);
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const rowCorner = oh * strideHeight - info.padInfo.top;
      let rowMin = rowCorner;
      while (rowMin < 0) rowMin += dilationHeight;
      const rowMax = Math.min(inHeight, rowCorner + effectiveFilterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const colCorner = ow * strideWidth - info.padInfo.left;
        let colMin = colCorner;
        while (colMin < 0) colMin += dilationWidth;
        const colMax = Math.min(inWidth, colCorner + effectiveFilterWidth);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let row = rowMin; row < rowMax; row += dilationHeight) {
          for (let col = colMin; col < colMax; col += dilationWidth) {
            const base = xBatch + (row * inWidth + col) * channels;
            for (let c = 0; c < channels; c++) {
              const value = x[base + c] as number;
              if (value > (best[c] as number)) {
                best[c] = value;
                where[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          const position = where[c] as number;
          if (position >= 0) dx[position]! += g[dyBase + c] as number;
        }
      }
    }
  }
  return out;
}

/** dx[p] = Σ over the windows that contain p of dy / (filterHeight · filterWidth), the cpu kernel's rule. */
function avgPoolGrad(args: KernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as PoolGradAttrs;
  const dy = inputs['dy'] as TensorInfo;
  const input = inputs['input'] as TensorInfo;
  const info = poolInfo(input, attrs);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const scale = 1 / (info.filterHeight * info.filterWidth);
  const out = makeOutput(backend, input.shape);
  const g = heapFloats(backend, dy, 'AvgPoolGrad');
  const dx = heapFloats(backend, out, 'AvgPoolGrad');
  dx.fill(0);
  const scaled = new Float32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const rowCorner = oh * strideHeight - info.padInfo.top;
      const rowMin = Math.max(0, rowCorner);
      const rowMax = Math.min(inHeight, rowCorner + info.filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const colCorner = ow * strideWidth - info.padInfo.left;
        const colMin = Math.max(0, colCorner);
        const colMax = Math.min(inWidth, colCorner + info.filterWidth);
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) scaled[c] = (g[dyBase + c] as number) * scale;
        for (let row = rowMin; row < rowMax; row++) {
          for (let col = colMin; col < colMax; col++) {
            const base = xBatch + (row * inWidth + col) * channels;
            for (let c = 0; c < channels; c++) dx[base + c]! += scaled[c] as number;
          }
        }
      }
    }
  }
  return out;
}

/** The pool-gradient kernels convkit registers on wasm (see registerWasmGradientKernels). */
export const POOL_GRADIENT_KERNELS: readonly { kernelName: string; kernelFunc: tf.KernelFunc }[] = [
  { kernelName: 'MaxPoolGrad', kernelFunc: maxPoolGrad as tf.KernelFunc },
  { kernelName: 'AvgPoolGrad', kernelFunc: avgPoolGrad as tf.KernelFunc },
];
