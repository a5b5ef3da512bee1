// Max- and average-pool gradients for the wasm backend as cache-friendly loops over the heap.
import * as tf from '@tensorflow/tfjs';
import { heapFloats, makeOutput } from './wasm-heap.js';
import type { KernelArgs } from './wasm-kernel-call.js';

type TensorInfo = tf.TensorInfo;

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
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
 * (the cpu kernel's rule; a window whose elements are all −∞ or NaN passes no gradient). The running maximum of each
 * (window, channel) pair lives in locals, and a window's channels are visited together, so the window stays in cache;
 * non-overlapping 2×2 windows (the usual `maxPooling2d({ poolSize: 2 })`) take a dedicated four-compare path. The
 * stock wasm kernel walks one channel at a time and is 10–20× slower; convkit's first version, which kept the running
 * maxima in per-channel arrays, is 2–3× slower.
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
  const rowStride = inWidth * channels;
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * rowStride;
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
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        const corner = xBatch + (rowMin * inWidth + colMin) * channels;
        if (rowMax - rowMin === 2 && colMax - colMin === 2 && dilationHeight === 1 && dilationWidth === 1) {
          // A full 2×2 window: first strictly greatest of (top-left, top-right, bottom-left, bottom-right).
          for (let c = 0; c < channels; c++) {
            const p0 = corner + c;
            const p1 = p0 + channels;
            const p2 = p0 + rowStride;
            const p3 = p2 + channels;
            let best = Number.NEGATIVE_INFINITY;
            let where = -1;
            const v0 = x[p0] as number;
            if (v0 > best) { best = v0; where = p0; }
            const v1 = x[p1] as number;
            if (v1 > best) { best = v1; where = p1; }
            const v2 = x[p2] as number;
            if (v2 > best) { best = v2; where = p2; }
            const v3 = x[p3] as number;
            if (v3 > best) where = p3;
            if (where >= 0) dx[where]! += g[dyBase + c] as number;
          }
          continue;
        }
        const rowStep = dilationHeight * rowStride;
        const colStep = dilationWidth * channels;
        const rowEnd = xBatch + rowMax * rowStride;
        for (let c = 0; c < channels; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let where = -1;
          for (let rowAt = corner + c; rowAt < rowEnd; rowAt += rowStep) {
            const colEnd = rowAt - colMin * channels + colMax * channels;
            for (let at = rowAt; at < colEnd; at += colStep) {
              const value = x[at] as number;
              if (value > best) {
                best = value;
                where = at;
              }
            }
          }
          if (where >= 0) dx[where]! += g[dyBase + c] as number;
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
