// JPEG decoding through @convkit/native's libjpeg-turbo (optional): the lazily loaded addon and the call that reads,
// decodes and resizes a file on @convkit/native's decode threads.
import { loadNativeJpegDecoder } from '@convkit/core';

/** @convkit/native's kernels with its JPEG decoder, as @convkit/core's `loadNativeJpegDecoder` gives them. */
type NativeKernels = Extract<Awaited<ReturnType<typeof loadNativeJpegDecoder>>, { kernels: unknown }>['kernels'];

/** Which decoder reads JPEG files: `'auto'` (libjpeg-turbo through `@convkit/native` when it is built) or `'sharp'`. */
export type JpegDecoder = 'auto' | 'sharp';

/** The JPEG decoders, for checking an option or `CONVKIT_JPEG_DECODER`. */
export const JPEG_DECODERS: readonly JpegDecoder[] = Object.freeze(['auto', 'sharp']);

/** File extensions tried with libjpeg-turbo (other files, and JPEGs it refuses, go to sharp). */
export const JPEG_EXTENSIONS: readonly string[] = Object.freeze(['.jpg', '.jpeg', '.jpe', '.jfif']);

/**
 * `@convkit/native`'s kernels when the addon is installed, loads and has `decodeJpeg` (it is built with libjpeg-turbo's
 * headers), else `undefined` (sharp then decodes every file). Loaded once for the process.
 */
export async function loadJpegKernels(): Promise<NativeKernels | undefined> {
  const loaded = await loadNativeJpegDecoder();
  return 'kernels' in loaded ? loaded.kernels : undefined;
}

/**
 * Reads and decodes the JPEG file `path` to RGB `width × height` with libjpeg-turbo, all on @convkit/native's decode threads (one
 * round trip to the JS thread): at the smallest DCT scale (1/8, 1/4, 1/2) whose size still covers the target, then an
 * antialiased bilinear resize (PIL's bilinear rule). Rejects for a file it does not take: not a JPEG, CMYK, 12-bit, an
 * embedded ICC profile (sharp converts those colours through the profile; this decoder would not), or a broken file.
 */
export async function decodeJpegNative(kernels: NativeKernels, path: string, height: number, width: number): Promise<Uint8Array> {
  const decoded = await kernels.decodeJpeg(path, { scale: 'fit', resize: { width, height }, refuseIccProfile: true });
  if (decoded.width !== width || decoded.height !== height || decoded.data.length !== width * height * 3) {
    throw new Error(`decoded to ${decoded.width}×${decoded.height}×3 instead of ${width}×${height}×3`);
  }
  return decoded.data;
}
