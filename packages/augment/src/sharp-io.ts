import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { Rng } from '@convkit/core';
import { applyPlan } from './compose.js';
import type { Container, Plan } from './compose.js';
import type { ImageShape, RawImage, Recorded } from './transform.js';
import { checkPositiveInteger } from './transform.js';

/** An image to decode: a file path or the encoded bytes. */
export type ImageInput = string | Uint8Array;

function label(input: ImageInput, index?: number): string {
  const where = typeof input === 'string' ? `"${input}"` : `a buffer of ${input.length} bytes`;
  return index === undefined ? where : `${where} (index ${index})`;
}

/**
 * Decodes an image (JPEG, PNG, WebP, … through sharp) into a raw RGB image (alpha removed).
 * A file that cannot be read or decoded throws an error naming it (and its index, if given).
 * `shrink` (1, 2, 4 or 8) decodes at 1/shrink size, which JPEG does cheaply (shrink-on-load).
 *
 * @example
 * ```ts
 * const image = await decodeImage('cat.jpg'); // { data, width, height, channels: 3 }
 * ```
 */
export async function decodeImage(input: ImageInput, options: { index?: number; shrink?: number; size?: ImageShape } = {}): Promise<RawImage> {
  const shrink = options.shrink ?? 1;
  try {
    let pipeline = sharp(input, { failOn: 'error' }).removeAlpha().toColourspace('srgb');
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

/** Options of {@link imagePipeline}. */
export interface ImagePipelineOptions {
  /** The augmentation (a container such as `compose([...])`). */
  transform: Container<RawImage>;
  /** Images decoded at once (sharp runs them on libuv's thread pool). Defaults to 4. */
  concurrency?: number;
  /** Keep decoded images in memory by input (for datasets that fit in memory). Defaults to false. */
  cache?: boolean;
  /** Decode at a reduced size when the first geometric transform shrinks by 2× or more. Defaults to true. */
  shrinkOnLoad?: boolean;
}

/** A decode-and-augment pipeline over files or encoded buffers. */
export interface ImagePipeline {
  /**
   * Decodes and augments `inputs`, each with its own fork of `rng` taken in input order (so the
   * result does not depend on which decode finishes first). Returns the images in input order and
   * the records that replay them.
   */
  run(inputs: readonly ImageInput[], rng: Rng): Promise<{ images: RawImage[]; records: Recorded[] }>;
  /** Forgets the cached decoded images. */
  clearCache(): void;
}

/**
 * Builds a decode → augment pipeline that keeps several images in flight, decodes JPEGs at
 * 1/2, 1/4 or 1/8 size when the sampled crop allows it (shrink-on-load), fuses the geometric
 * transforms into one resampling, and can cache decoded images.
 *
 * @example
 * ```ts
 * const pipeline = imagePipeline({ transform: compose([randomResizedCrop({ width: 224, height: 224 }), horizontalFlip()]) });
 * const { images } = await pipeline.run(['a.jpg', 'b.jpg'], new Rng(0));
 * const x = imagesToTensor(images); // the caller disposes x
 * ```
 */
export function imagePipeline(options: ImagePipelineOptions): ImagePipeline {
  const transform = options?.transform;
  if (typeof transform?.sampleAll !== 'function') {
    throw new Error(`imagePipeline: transform must be a container such as compose([...]) (received ${String(transform)})`);
  }
  const concurrency = checkPositiveInteger('imagePipeline: concurrency', options.concurrency ?? 4);
  const cache = new Map<ImageInput, Promise<RawImage>>();
  const sizes = new Map<ImageInput, Promise<ImageShape>>();
  const useCache = options.cache ?? false;
  const shrinkOnLoad = options.shrinkOnLoad ?? true;

  const one = async (input: ImageInput, rng: Rng, index: number): Promise<{ image: RawImage; record: Recorded }> => {
    if (useCache) {
      let decoded = cache.get(input);
      if (decoded === undefined) {
        decoded = decodeImage(input, { index });
        cache.set(input, decoded);
        decoded.catch(() => cache.delete(input));
      }
      const image = await decoded;
      const record = transform.sampleAll(rng, image);
      return { image: transform.applyRecorded(image, record), record };
    }
    let size = sizes.get(input);
    if (size === undefined) {
      size = imageSize(input, index);
      sizes.set(input, size);
      size.catch(() => sizes.delete(input));
    }
    const shape = await size;
    const record = transform.sampleAll(rng, shape);
    const shrink = shrinkOnLoad ? shrinkFor(transform, shape, record) : 1;
    const image = await decodeImage(input, { index, shrink, size: shape });
    if (!record.applied) return { image, record };
    const initial = { matrix: [image.width / shape.width, 0, 0, 0, image.height / shape.height, 0] as const, width: shape.width, height: shape.height };
    return { image: applyPlan(transform.children, image, record.params as Plan, initial), record };
  };

  return {
    async run(inputs, rng) {
      const forks = inputs.map(() => rng.fork());
      const results = new Array<{ image: RawImage; record: Recorded }>(inputs.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < inputs.length) {
          const index = next++;
          results[index] = await one(inputs[index]!, forks[index]!, index);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
      return { images: results.map((r) => r.image), records: results.map((r) => r.record) };
    },
    clearCache() {
      cache.clear();
      sizes.clear();
    },
  };
}

/** The largest power of two (≤ 8) by which the first applied geometric transform downsamples. */
function shrinkFor(transform: Container<RawImage>, shape: ImageShape, record: Recorded): number {
  if (!record.applied) return 1;
  const first = (record.params as Plan).find((step) => step.record.applied);
  const child = first === undefined ? undefined : transform.children[first.index];
  if (child?.affine === undefined) return 1;
  const [a, b, , d, e] = child.affine(shape, first!.record.params).matrix;
  const scale = Math.min(Math.hypot(a, d), Math.hypot(b, e));
  return scale >= 8 ? 8 : scale >= 4 ? 4 : scale >= 2 ? 2 : 1;
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
    const offset = i * size;
    for (let k = 0; k < size; k++) values[offset + k] = image.data[k]! * scale;
  });
  return tf.tensor4d(values, [images.length, height, width, channels]);
}
