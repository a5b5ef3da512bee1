import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { colorJitter, compose, cutout, decodeImage, horizontalFlip, imagePipeline, imagesToTensor, randomResizedCrop, rotate, zoom } from './index.js';
import type { ImageTransform, RawImage } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'augment-pipeline-'));
/** A JPEG with texture (so a misplaced pixel shows) or, when `smooth`, a linear gradient. */
async function jpeg(name: string, width: number, height: number, smooth = false): Promise<string> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      raw[o] = smooth ? (x * 255) / width : (x * 7 + y * 3) & 255;
      raw[o + 1] = smooth ? (y * 255) / height : (x ^ y) & 255;
      raw[o + 2] = smooth ? 128 : (x * y) & 255;
    }
  }
  const file = join(dir, name);
  await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  return file;
}

/** The unfused reference: decode the whole image, then replay the record transform by transform. */
async function reference(transform: ReturnType<typeof compose<RawImage>>, files: string[], records: unknown[]): Promise<RawImage[]> {
  const out: RawImage[] = [];
  for (let i = 0; i < files.length; i++) out.push(transform.applyRecorded(await decodeImage(files[i]!), records[i] as never));
  return out;
}

/**
 * A square random resized crop of `file` into `size` px (crop area in `scale`) through the pipeline with `options`,
 * against the unfused reference on the full-size decode: the largest difference of a value, and whether all are equal.
 */
async function againstFullDecode(file: string, size: number, scale: readonly [number, number], options: { decoder: 'sharp' | 'native'; shrinkOnLoad?: boolean }): Promise<{ worst: number; same: boolean }> {
  const transform = compose([randomResizedCrop({ width: size, height: size, scale: [scale[0], scale[1]], ratio: [1, 1] })]);
  const { images, records } = await imagePipeline({ transform, ...options }).run([file], new Rng(1));
  const [full] = await reference(transform, [file], records);
  let worst = 0;
  for (let k = 0; k < full!.data.length; k++) worst = Math.max(worst, Math.abs(images[0]!.data[k]! - full!.data[k]!));
  return { worst, same: Buffer.compare(images[0]!.data, full!.data) === 0 };
}

const augment = (): ReturnType<typeof compose<RawImage>> =>
  compose([randomResizedCrop({ width: 32, height: 24 }), horizontalFlip(), rotate({ degrees: 15 }), colorJitter({ brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1 })]);

describe('decodeImage with a region', () => {
  it('gives the same bytes as cutting the rectangle out of the full decode', async () => {
    const file = await jpeg('region.jpg', 70, 50);
    const full = await decodeImage(file);
    const region = { left: 13, top: 21, width: 30, height: 17 };
    const part = await decodeImage(file, { region });
    expect([part.width, part.height]).toEqual([30, 17]);
    for (let y = 0; y < 17; y++) {
      const start = ((region.top + y) * 70 + region.left) * 3;
      expect(Array.from(part.data.subarray(y * 90, (y + 1) * 90))).toEqual(Array.from(full.data.subarray(start, start + 90)));
    }
    await expect(decodeImage(file, { region, shrink: 2 })).rejects.toThrow('decodeImage: region cannot be combined with shrink (received shrink 2)');
  });
});

describe('imagePipeline', () => {
  it('run and runTensor equal the unfused reference byte for byte, for any concurrency and decode mode', async () => {
    const files = [await jpeg('p0.jpg', 64, 48), await jpeg('p1.jpg', 48, 64), await jpeg('p2.jpg', 40, 40), await jpeg('p3.jpg', 90, 30)];
    const transform = augment();
    for (const seed of [1, 2, 3]) {
      const { images, records } = await imagePipeline({ transform, concurrency: 1 }).run(files, new Rng(seed));
      const expected = await reference(transform, files, records);
      images.forEach((image, i) => expect(Buffer.compare(image.data, expected[i]!.data)).toBe(0));
      for (const options of [{ concurrency: 8 }, { regionDecode: false }, { cache: true }, { decoder: 'sharp' as const }, { decoder: 'sharp' as const, concurrency: 8 }, { decoder: 'native' as const }]) {
        const pipeline = imagePipeline({ transform, ...options });
        await expectNoLeak(async () => {
          const { x, records: again } = await pipeline.runTensor(files, new Rng(seed));
          expect(again).toEqual(records);
          const want = imagesToTensor(expected);
          expect(x.shape).toEqual([4, 24, 32, 3]);
          expect(Array.from(await x.data())).toEqual(Array.from(await want.data()));
          tf.dispose([x, want]);
        });
      }
    }
  });
  it('records replay after a JSON round trip, and the same rng gives the same batch', async () => {
    const files = [await jpeg('r0.jpg', 64, 48), await jpeg('r1.jpg', 50, 60)];
    const transform = augment();
    const pipeline = imagePipeline({ transform });
    const a = await pipeline.run(files, new Rng(9));
    const b = await pipeline.run(files, new Rng(9));
    expect(b.records).toEqual(a.records);
    const replayed = await reference(transform, files, JSON.parse(JSON.stringify(a.records)));
    replayed.forEach((image, i) => expect(Buffer.compare(image.data, a.images[i]!.data)).toBe(0));
    const c = await pipeline.run(files, new Rng(10));
    expect(c.records).not.toEqual(a.records);
  });
  it('a last step without a float fast path is converted after it (cutout last), equal to imagesToTensor', async () => {
    const files = [await jpeg('c0.jpg', 40, 40), await jpeg('c1.jpg', 44, 36)];
    const transform = compose([randomResizedCrop({ width: 16, height: 16 }), colorJitter(), cutout({ p: 1 })]);
    const pipeline = imagePipeline({ transform });
    await expectNoLeak(async () => {
      const { x, records } = await pipeline.runTensor(files, new Rng(4), { scale: 2 });
      const want = imagesToTensor(await reference(transform, files, records), { scale: 2 });
      expect(Array.from(await x.data())).toEqual(Array.from(await want.data()));
      tf.dispose([x, want]);
    });
  });
  it('a transform that starts with a non-geometric step decodes the whole image and still matches', async () => {
    const files = [await jpeg('n0.jpg', 30, 20)];
    const transform = compose([colorJitter(), zoom({ range: 0.3 })]);
    const { images, records } = await imagePipeline({ transform }).run(files, new Rng(6));
    const [expected] = await reference(transform, files, records);
    expect(Buffer.compare(images[0]!.data, expected!.data)).toBe(0);
  });
  it('runTensor refuses outputs of different sizes, naming the input', async () => {
    const files = [await jpeg('s0.jpg', 20, 20), await jpeg('s1.jpg', 30, 20)];
    const pipeline = imagePipeline({ transform: compose([rotate()]) });
    await expect(pipeline.runTensor(files, new Rng(0))).rejects.toThrow(
      'runTensor: every augmented image must have one size to be stacked (received 20×20 for inputs[0] and 30×20 for inputs[1])'
    );
    await expect(pipeline.runTensor([], new Rng(0))).rejects.toThrow(/at least one input \(received 0\)/);
  });
  it('runTensor calls applyToFloat32 of the last applied step and stores what it writes', async () => {
    const files = [await jpeg('f0.jpg', 24, 24)];
    let calls = 0;
    const marker: ImageTransform = {
      name: 'marker',
      p: 1,
      strength: 1,
      sample: () => ({}),
      apply: (image) => image,
      applyToFloat32(image, _params, out, offset, scale) {
        calls++;
        for (let k = 0; k < image.data.length; k++) out[offset + k] = 1000 + image.data[k]! * scale;
        return image.data.length;
      },
    };
    const transform = compose([randomResizedCrop({ width: 8, height: 8 }), marker, horizontalFlip({ p: 0 })]);
    await expectNoLeak(async () => {
      const { x, records } = await imagePipeline({ transform }).runTensor(files, new Rng(2), { scale: 1 });
      const [expected] = await reference(transform, files, records);
      expect(calls).toBe(1);
      expect(Array.from(await x.data())).toEqual(Array.from(expected!.data, (v) => 1000 + v));
      x.dispose();
    });
  });
  it('with sharp, shrink-on-load only from a 4× downsampling: below it the output is the full decode, from it close to it', async () => {
    const big = await jpeg('big.jpg', 256, 256, true);
    // Square crops of 198–256 px into 96 px: downsampling by 2–2.7×, below 4×, so no shrink, exact.
    expect(await againstFullDecode(big, 96, [0.6, 1], { decoder: 'sharp' })).toEqual({ worst: 0, same: true });
    // Into 16 px: 14× or more, so a 1/8 decode. On a linear gradient the lanczos3 prefilter and the
    // point-sampled full decode agree within JPEG error and half a source pixel of ramp (~4 levels).
    const strong = await againstFullDecode(big, 16, [0.9, 1], { decoder: 'sharp' });
    expect(strong.worst).toBeLessThanOrEqual(6);
    expect(strong.same).toBe(false); // the shrunk decode was used
    expect(await againstFullDecode(big, 16, [0.9, 1], { decoder: 'sharp', shrinkOnLoad: false })).toEqual({ worst: 0, same: true });
  });
  it('with the native decoder, shrink-on-load from a 2× downsampling (a 1/2, 1/4 or 1/8 DCT decode), exact below it', async () => {
    const big = await jpeg('big-native.jpg', 256, 256, true);
    // Crops of 154–179 px into 96 px: 1.6–1.87×, no shrink, exact.
    expect(await againstFullDecode(big, 96, [0.36, 0.49], { decoder: 'native' })).toEqual({ worst: 0, same: true });
    // 2–2.7× (a 1/2 decode), 5.4× and up (1/4), 14× and up (1/8): the reduced decode averages blocks where the
    // full decode is point-sampled; on a linear gradient they agree within JPEG error and the ramp across a block.
    for (const [width, scale, bound] of [[96, [0.6, 1], 4], [40, [0.8, 1], 6], [16, [0.9, 1], 8]] as const) {
      const strong = await againstFullDecode(big, width, scale, { decoder: 'native' });
      expect(strong.worst, `${width} px`).toBeLessThanOrEqual(bound);
      expect(strong.same, `${width} px`).toBe(false); // the reduced decode was used
      expect(await againstFullDecode(big, width, scale, { decoder: 'native', shrinkOnLoad: false }), `${width} px`).toEqual({ worst: 0, same: true });
    }
  });
  it('the native decoder takes JPEG bytes and paths; other formats, ICC profiles and broken files go to sharp', async () => {
    const files = [await jpeg('b0.jpg', 64, 48), await jpeg('b1.jpg', 48, 64)];
    const png = join(dir, 'b2.png');
    await sharp(await decodeImage(files[0]!).then((image) => Buffer.from(image.data)), { raw: { width: 64, height: 48, channels: 3 } }).png().toFile(png);
    const icc = join(dir, 'b3.jpg');
    await sharp(png).withIccProfile('p3').jpeg({ quality: 90 }).toFile(icc);
    const inputs = [files[0]!, new Uint8Array(await sharp(files[1]!).toBuffer()), png, icc];
    const transform = augment();
    const native = await imagePipeline({ transform, decoder: 'native', shrinkOnLoad: false }).run(inputs, new Rng(3));
    const viaSharp = await imagePipeline({ transform, decoder: 'sharp', shrinkOnLoad: false }).run(inputs, new Rng(3));
    native.images.forEach((image, i) => expect(Buffer.compare(image.data, viaSharp.images[i]!.data), `input ${i}`).toBe(0));
    // A file that ends early: the native decoder refuses it, and sharp's error names it.
    const broken = join(dir, 'broken.jpg');
    const whole = await readFile(await jpeg('whole.jpg', 64, 256));
    await writeFile(broken, whole.subarray(0, whole.length >> 1));
    await expect(imagePipeline({ transform, decoder: 'native' }).run([broken], new Rng(0))).rejects.toThrow(
      `could not decode image "${broken}" (index 0): VipsJpeg: premature end of JPEG image`
    );
    expect(() => imagePipeline({ transform, decoder: 'libjpeg' as never })).toThrow("imagePipeline: decoder must be 'auto', 'native' or 'sharp' (received libjpeg)");
  });
});
