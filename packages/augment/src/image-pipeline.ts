import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@convkit/core';
import { applyPlan, applyPlanToFloat32, leadingAffine } from './compose.js';
import type { Container, Plan } from './compose.js';
import { dctScale, nativeJpegDecoder } from './native-jpeg.js';
import type { JpegDecoder } from './native-jpeg.js';
import { decodeImage, imageSize } from './sharp-io.js';
import type { ImageInput } from './sharp-io.js';
import type { AffineMap, ColorMap, ImageShape, RawImage, Recorded } from './transform.js';
import { checkPositiveInteger, recordedShape } from './transform.js';
import { embedRegion, readRegion, warpAffine } from './warp.js';

/** Options of {@link imagePipeline}. */
export interface ImagePipelineOptions {
  /** The augmentation (a container such as `compose([...])`). */
  transform: Container<RawImage>;
  /**
   * Images in flight at once: decoding (sharp, on libuv's thread pool) of some overlaps the JavaScript
   * steps of others. Defaults to 4.
   */
  concurrency?: number;
  /** Keep decoded images in memory by input (for datasets that fit in memory). Defaults to false. */
  cache?: boolean;
  /**
   * Decode at a reduced size when the leading geometric transforms shrink the image (shrink-on-load): with the
   * native decoder, a JPEG at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling) from a shrink of 2×, 4× or 8×;
   * with sharp, at 1/4 or 1/8 from 4× or 8× (lanczos3). The pixels then differ a little from a full-size decode
   * (the reduced decode averages blocks of pixels, where bilinear sampling of the full image would skip some).
   * Defaults to true.
   */
  shrinkOnLoad?: boolean;
  /**
   * Decode only the rectangle that the leading geometric transforms read (the same output bytes as a
   * full decode; a JPEG's decoding stops after the rectangle's last row). Defaults to true. The native
   * decoder always does (its output is the same bytes either way).
   */
  regionDecode?: boolean;
  /**
   * Who decodes JPEGs. `'native'`: @convkit/native's libjpeg-turbo decoder, which decodes the rectangle the leading
   * geometric transforms read and warps it on @convkit/native's decode threads, leaving the JavaScript thread to the rest (the
   * same bytes as sharp's decode warped here, JPEGs with an embedded ICC profile excepted: those go to sharp);
   * it throws, saying why, when the decoder is not there. `'sharp'`: sharp for every image. `'auto'` (the default):
   * native when it is there, else sharp. Other formats are always decoded by sharp.
   */
  decoder?: 'auto' | 'native' | 'sharp';
}

/** A decode-and-augment pipeline over files or encoded buffers. */
export interface ImagePipeline {
  /**
   * Decodes and augments `inputs`, each with its own fork of `rng` taken in input order (so the
   * result does not depend on which decode finishes first). Returns the images in input order and
   * the records that replay them.
   */
  run(inputs: readonly ImageInput[], rng: Rng): Promise<{ images: RawImage[]; records: Recorded[] }>;
  /**
   * Like {@link ImagePipeline.run}, but stacks the images into a float32 tensor
   * `[n, height, width, channels]`, each value times `scale` (defaults to 1/255): the same values as
   * `imagesToTensor(images)`, written as each image finishes (a final colour jitter writes its floats
   * directly). Every augmented image must have one size. Returns a new tensor; the caller disposes `x`.
   */
  runTensor(inputs: readonly ImageInput[], rng: Rng, options?: { scale?: number }): Promise<{ x: tf.Tensor4D; records: Recorded[] }>;
  /** Forgets the cached decoded images. */
  clearCache(): void;
}

/** What is left of an image's augmentation once it is decoded and its leading geometric steps are applied. */
interface Prepared {
  image: RawImage;
  rest: Plan;
}

/**
 * Builds a decode → augment pipeline that keeps several images in flight, decodes only the part of
 * each image that its crop and rotation read (or, for large shrinks, a JPEG at 1/4 or 1/8 size),
 * fuses the geometric transforms into one resampling, and can cache decoded images.
 *
 * @example
 * ```ts
 * const pipeline = imagePipeline({ transform: compose([randomResizedCrop({ width: 224, height: 224 }), horizontalFlip()]) });
 * const { x, records } = await pipeline.runTensor(['a.jpg', 'b.jpg'], new Rng(0)); // the caller disposes x
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
  const notNative = new Set<ImageInput>();
  const useCache = options.cache ?? false;
  const shrinkOnLoad = options.shrinkOnLoad ?? true;
  const regionDecode = options.regionDecode ?? true;
  const decoder = options.decoder ?? 'auto';
  if (decoder !== 'auto' && decoder !== 'native' && decoder !== 'sharp') {
    throw new Error(`imagePipeline: decoder must be 'auto', 'native' or 'sharp' (received ${String(decoder)})`);
  }
  const children = transform.children;
  let frame: Uint8Array | undefined;

  const remember = <T>(map: Map<ImageInput, Promise<T>>, input: ImageInput, make: () => Promise<T>): Promise<T> => {
    let value = map.get(input);
    if (value === undefined) {
      value = make();
      map.set(input, value);
      value.catch(() => map.delete(input));
    }
    return value;
  };

  /** The native decoder, or undefined when sharp decodes (by choice, or as it is not there under 'auto'). */
  const native = async (): Promise<JpegDecoder | undefined> => {
    if (decoder === 'sharp') return undefined;
    const loaded = await nativeJpegDecoder();
    if ('decode' in loaded) return loaded.decode;
    if (decoder === 'native') throw new Error(`imagePipeline: decoder 'native' is not available: ${loaded.reason}`);
    return undefined;
  };

  /**
   * Decodes `input` with the native decoder, at `scale`/8 and through `warp` when given; undefined when sharp is to
   * decode it (no native decoder, or a file the native decoder refuses: not a JPEG, CMYK, an embedded ICC profile,
   * broken; sharp then decodes it or names the file in its error).
   */
  const decodeNative = async (
    input: ImageInput,
    warp?: AffineMap,
    scale = 8,
    finish?: { color: ColorMap | undefined; into: { out: Float32Array; offset: number; scale: number } }
  ): Promise<RawImage | undefined> => {
    const decode = await native();
    if (decode === undefined || notNative.has(input)) return undefined;
    const k = scale / 8;
    try {
      // A path is read on the decode thread with the decode (one round trip to this thread instead of readFile's four).
      return await decode(input, {
        scale,
        refuseIccProfile: true,
        ...(warp === undefined ? {} : { warp: { matrix: warp.matrix.map((value) => value * k), width: warp.width, height: warp.height } }),
        ...(finish?.color === undefined ? {} : { color: finish.color }),
        ...(finish === undefined ? {} : { into: finish.into }),
      });
    } catch {
      notNative.add(input); // not a JPEG, an ICC profile, CMYK, broken: sharp from now on (and its error names the file)
      return undefined;
    }
  };

  const decodeWhole = async (input: ImageInput, index: number): Promise<RawImage> =>
    (await decodeNative(input)) ?? (await decodeImage(input, { index }));

  const sampleAll = async (inputs: readonly ImageInput[], rng: Rng): Promise<{ shapes: ImageShape[]; records: Recorded[] }> => {
    const forks = inputs.map(() => rng.fork());
    const shapes = await Promise.all(
      inputs.map((input, index) => (useCache ? remember(cache, input, () => decodeWhole(input, index)) : remember(sizes, input, () => imageSize(input, index))))
    );
    return { shapes, records: shapes.map((shape, index) => transform.sampleAll(forks[index]!, shape)) };
  };

  const prepare = async (input: ImageInput, shape: ImageShape, record: Recorded, index: number): Promise<Prepared> => {
    if (!record.applied) return { image: useCache ? await cache.get(input)! : await decodeWhole(input, index), rest: [] };
    const plan = record.params as Plan;
    if (useCache) return warpLeading(await cache.get(input)!, plan, undefined);
    if (decoder !== 'sharp') {
      const { map, rest } = leadingAffine(children, shape, plan);
      const image = map === undefined ? await decodeNative(input) : await decodeNative(input, map, shrinkOnLoad ? dctScale(map) : 8);
      if (image !== undefined) return { image, rest };
    }
    const shrink = shrinkOnLoad ? shrinkFor(transform, shape, plan) : 1;
    if (shrink > 1) {
      const image = await decodeImage(input, { index, shrink, size: shape });
      const initial: AffineMap = { matrix: [image.width / shape.width, 0, 0, 0, image.height / shape.height, 0], width: shape.width, height: shape.height };
      return warpLeading(image, plan, initial);
    }
    const { map, rest } = leadingAffine(children, shape, plan);
    if (map === undefined || !regionDecode) return warpLeading(await decodeImage(input, { index }), plan, undefined);
    const region = readRegion(map, shape.width, shape.height);
    const image = await decodeImage(input, { index, region });
    // Warping the rectangle placed in a full-size frame is faster in V8 than offsetting every read; the
    // frame is reused, as embedding and warping run together, with no await between them.
    const framed = embedRegion(image, region, shape.width, shape.height, frame);
    frame = framed.data.buffer.byteLength > (frame?.buffer.byteLength ?? 0) ? new Uint8Array(framed.data.buffer) : frame;
    return { image: warpAffine(framed, map), rest };
  };

  /**
   * The whole of one image on the native decoder, for runTensor: decode, the leading geometric steps, a last
   * colour step with a `colorMap` (if any) and the float conversion, written into `out` at `offset`. False when
   * the plan has other steps, or the native decoder does not take the input (the caller then runs the plan).
   */
  const nativeToFloat = async (input: ImageInput, shape: ImageShape, record: Recorded, out: Float32Array, offset: number, scale: number): Promise<boolean> => {
    if (decoder === 'sharp' || useCache) return false;
    const plan = record.applied ? (record.params as Plan) : [];
    const leading = leadingAffine(children, shape, plan);
    const steps = leading.rest.filter((step) => step.record.applied);
    if (steps.length > 1) return false;
    let color: ColorMap | undefined;
    if (steps.length === 1) {
      const { index: child, record: stepRecord } = steps[0]!;
      const transformOf = children[child]!;
      if (transformOf.colorMap === undefined || transformOf.name !== stepRecord.name) return false;
      color = transformOf.colorMap(stepRecord.params);
    }
    const map = leading.map ?? { matrix: [1, 0, 0, 0, 1, 0], width: shape.width, height: shape.height };
    const done = await decodeNative(input, map, shrinkOnLoad ? dctScale(map) : 8, { color, into: { out, offset, scale } });
    return done !== undefined;
  };

  const warpLeading = (image: RawImage, plan: Plan, initial: AffineMap | undefined): Prepared => {
    const shape: ImageShape = { width: image.width, height: image.height, channels: image.channels };
    const { map, rest } = leadingAffine(children, shape, plan, initial);
    if (map === undefined) return { image, rest };
    return { image: warpAffine(image, map), rest };
  };

  return {
    async run(inputs, rng) {
      const { shapes, records } = await sampleAll(inputs, rng);
      const images = new Array<RawImage>(inputs.length);
      await inFlight(inputs.length, concurrency, async (index) => {
        const { image, rest } = await prepare(inputs[index]!, shapes[index]!, records[index]!, index);
        images[index] = applyPlan(children, image, rest);
      });
      return { images, records };
    },
    async runTensor(inputs, rng, tensorOptions = {}) {
      const scale = tensorOptions.scale ?? 1 / 255;
      if (inputs.length === 0) throw new Error('runTensor: inputs must hold at least one input (received 0)');
      const { shapes, records } = await sampleAll(inputs, rng);
      const outputs = records.map((record, index) => recordedShape(transform, shapes[index]!, record));
      const { width, height, channels } = outputs[0]!;
      outputs.forEach((output, index) => {
        if (output.width !== width || output.height !== height) {
          throw new Error(
            `runTensor: every augmented image must have one size to be stacked (received ${width}×${height} for inputs[0] and ${output.width}×${output.height} for inputs[${index}]); end the transform with a crop or resize`
          );
        }
      });
      const size = width * height * channels;
      const values = new Float32Array(inputs.length * size);
      await inFlight(inputs.length, concurrency, async (index) => {
        if (await nativeToFloat(inputs[index]!, shapes[index]!, records[index]!, values, index * size, scale)) return;
        const { image, rest } = await prepare(inputs[index]!, shapes[index]!, records[index]!, index);
        const written = applyPlanToFloat32(children, image, rest, values, index * size, scale);
        if (written !== size) throw new Error(`runTensor: inputs[${index}] gives ${written} values (expected ${size}: ${width}×${height}×${channels})`);
      });
      return { x: tf.tensor4d(values, [inputs.length, height, width, channels]), records };
    },
    clearCache() {
      cache.clear();
      sizes.clear();
      notNative.clear();
    },
  };
}

/** Runs `work(index)` for every index in [0, count), at most `concurrency` at once. */
async function inFlight(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/**
 * The shrink-on-load factor (4 or 8, else 1) for the first applied geometric transform's
 * downsampling. A shrink of 2 is not used: sharp then decodes the JPEG at full size and adds a
 * lanczos3 resize, which is slower than the full decode alone.
 */
function shrinkFor(transform: Container<RawImage>, shape: ImageShape, plan: Plan): number {
  const first = plan.find((step) => step.record.applied);
  const child = first === undefined ? undefined : transform.children[first.index];
  if (child?.affine === undefined) return 1;
  const [a, b, , d, e] = child.affine(shape, first!.record.params).matrix;
  const scale = Math.min(Math.hypot(a, d), Math.hypot(b, e));
  return scale >= 8 ? 8 : scale >= 4 ? 4 : 1;
}
