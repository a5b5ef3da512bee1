import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { copyScaled } from './compose.js';
import type { ImageShape, RawImage } from './transform.js';

/** An image to decode: a file path or the encoded bytes. */
export type ImageInput = string | Uint8Array;

function label(input: ImageInput, index?: number): string {
  const where = typeof input === 'string' ? `"${input}"` : `a buffer of ${input.length} bytes`;
  return index === undefined ? where : `${where} (index ${index})`;
}

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** The input's index in a batch, named in errors. */
  index?: number;
  /**
   * Decode at 1/`shrink` size (1, 2, 4 or 8; sharp resizes with lanczos3 and, from a shrink of 4,
   * lets libjpeg decode at 1/2 or 1/4 size first). Defaults to 1.
   */
  shrink?: number;
  /** The image's full size, when known (saves reading the header for `shrink`). */
  size?: ImageShape;
  /**
   * Decode only this rectangle, in pixels of the full image: the same bytes as cutting it out of
   * the full decode, and a JPEG's decoding stops after the rectangle's last row. Not with `shrink`.
   */
  region?: { left: number; top: number; width: number; height: number };
}

/**
 * Decodes an image (JPEG, PNG, WebP, … through sharp) into a raw RGB image (alpha removed).
 * A file that cannot be read or decoded throws an error naming it (and its index, if given).
 * `shrink` decodes at a reduced size; `region` decodes one rectangle.
 *
 * @example
 * ```ts
 * const image = await decodeImage('cat.jpg'); // { data, width, height, channels: 3 }
 * const corner = await decodeImage('cat.jpg', { region: { left: 0, top: 0, width: 64, height: 64 } });
 * ```
 */
export async function decodeImage(input: ImageInput, options: DecodeOptions = {}): Promise<RawImage> {
  const shrink = options.shrink ?? 1;
  const region = options.region;
  if (region !== undefined && shrink !== 1) {
    throw new Error(`decodeImage: region cannot be combined with shrink (received shrink ${shrink})`);
  }
  try {
    let pipeline = sharp(input, { failOn: 'error' });
    if (region !== undefined) pipeline = pipeline.extract(region);
    pipeline = pipeline.removeAlpha().toColourspace('srgb');
    if (shrink > 1) {
      const size = options.size ?? (await imageSize(input));
      pipeline = pipeline.resize(Math.ceil(size.width / shrink), Math.ceil(size.height / shrink), { fit: 'fill' });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
  } catch (error) {
    throw new Error(`could not decode image ${label(input, options.index)}: ${(error as Error).message}`);
  }
}

/** Reads a JPEG's or PNG's size from its header without decoding; other formats ask sharp. */
export async function imageSize(input: ImageInput, index?: number): Promise<ImageShape> {
  const bytes = typeof input === 'string' ? await readFile(input) : input;
  const fromHeader = headerSize(bytes);
  if (fromHeader !== undefined) return fromHeader;
  try {
    const meta = await sharp(bytes).metadata();
    if (meta.width === undefined || meta.height === undefined) throw new Error('no size in the header');
    return { width: meta.width, height: meta.height, channels: 3 };
  } catch (error) {
    throw new Error(`could not read the size of image ${label(input, index)}: ${(error as Error).message}`);
  }
}

function headerSize(bytes: Uint8Array): ImageShape | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    return { width: view.getUint32(16), height: view.getUint32(20), channels: 3 };
  }
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]!, channels: 3 };
    }
    i += 2 + length;
  }
  return undefined;
}

/**
 * Stacks raw images of one size into a float32 tensor `[n, height, width, channels]`, each value
 * times `scale`. Returns a new tensor; the caller disposes it.
 *
 * @param options - `scale`, defaults to 1/255.
 * @example
 * ```ts
 * const x = imagesToTensor(images); // values in [0, 1]
 * ```
 */
export function imagesToTensor(images: readonly RawImage[], options: { scale?: number } = {}): tf.Tensor4D {
  const scale = options.scale ?? 1 / 255;
  if (images.length === 0) throw new Error('images must hold at least one image (received 0)');
  const { width, height, channels } = images[0]!;
  const size = width * height * channels;
  const values = new Float32Array(images.length * size);
  images.forEach((image, i) => {
    if (image.width !== width || image.height !== height || image.channels !== channels) {
      throw new Error(`images[${i}] must be ${width}×${height}×${channels} like images[0] (received ${image.width}×${image.height}×${image.channels})`);
    }
    copyScaled(image.data, values, i * size, scale);
  });
  return tf.tensor4d(values, [images.length, height, width, channels]);
}
