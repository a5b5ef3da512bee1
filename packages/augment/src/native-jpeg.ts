import { loadNativeKernels } from '@convkit/core';
import type { AffineMap, ColorMap, RawImage } from './transform.js';

/** @convkit/native's JPEG decoder, as this package calls it. */
export type JpegDecoder = (
  input: Uint8Array | string,
  options: {
    scale?: number;
    refuseIccProfile?: boolean;
    warp?: { matrix: readonly number[]; width: number; height: number };
    color?: ColorMap;
    into?: { out: Float32Array; offset: number; scale: number };
  }
) => Promise<RawImage>;

let loading: Promise<{ decode: JpegDecoder } | { reason: string }> | undefined;

/**
 * @convkit/native's `decodeJpeg`, loaded once through @convkit/core's `loadNativeKernels`: the decoder, or why there is
 * none (the package is not installed, its addon was not built, or it was built without libjpeg-turbo's headers).
 */
export function nativeJpegDecoder(): Promise<{ decode: JpegDecoder } | { reason: string }> {
  loading ??= loadNativeKernels().then((loaded) => {
    if ('reason' in loaded) return { reason: loaded.reason };
    const decodeJpeg = loaded.kernels.decodeJpeg;
    if (decodeJpeg === undefined) return { reason: '@convkit/native was built without libjpeg-turbo (Debian: apt-get install libjpeg62-turbo-dev, then npm rebuild @convkit/native)' };
    return { decode: decodeJpeg as JpegDecoder };
  });
  return loading;
}

/**
 * libjpeg's DCT scale (of 8) for an inverse map that reads `shrink` input pixels per output pixel: the smallest of
 * 1/8, 1/4 and 1/2 that still leaves at least one decoded pixel per output pixel (those three have SIMD inverse
 * DCTs in libjpeg-turbo; the other eighths are slower than a full decode), else 8.
 */
export function dctScale(map: AffineMap): number {
  const [a, b, , d, e] = map.matrix;
  const shrink = Math.min(Math.hypot(a, d), Math.hypot(b, e));
  return shrink >= 8 ? 1 : shrink >= 4 ? 2 : shrink >= 2 ? 4 : 8;
}
