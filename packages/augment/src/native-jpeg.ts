import { loadNativeJpegDecoder } from '@convkit/core';
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

/**
 * @convkit/native's `decodeJpeg` (through @convkit/core's `loadNativeJpegDecoder`, loaded once): the decoder, or why
 * there is none (the package is not installed, its addon was not built, or it was built without libjpeg-turbo's
 * headers).
 */
export async function nativeJpegDecoder(): Promise<{ decode: JpegDecoder } | { reason: string }> {
  const loaded = await loadNativeJpegDecoder();
  return 'reason' in loaded ? loaded : { decode: loaded.kernels.decodeJpeg as JpegDecoder };
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
