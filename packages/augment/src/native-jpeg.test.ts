import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { Rng } from '@convkit/core';
import type { AffineMap } from './transform.js';

// Counts sharp's decodes, to show which inputs the native decoder took.
vi.mock('./sharp-io.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./sharp-io.js')>();
  return { ...actual, decodeImage: vi.fn(actual.decodeImage) };
});

const { decodeImage } = await import('./sharp-io.js');
const { colorJitter, compose, horizontalFlip, imagePipeline, randomResizedCrop, rotate } = await import('./index.js');
const { dctScale } = await import('./native-jpeg.js');

const dir = mkdtempSync(join(tmpdir(), 'augment-native-'));
const raw = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) & 255));
const image = (): sharp.Sharp => sharp(raw, { raw: { width: 40, height: 30, channels: 3 } });

describe('the native JPEG decoder in imagePipeline', () => {
  it('decodes plain JPEGs (paths and bytes) itself and leaves PNG and ICC-profile JPEGs to sharp', async () => {
    const jpegFile = join(dir, 'a.jpg');
    await image().jpeg().toFile(jpegFile);
    const jpegBytes = new Uint8Array(await image().jpeg({ progressive: true }).toBuffer());
    const png = join(dir, 'b.png');
    await image().png().toFile(png);
    const icc = new Uint8Array(await image().withIccProfile('p3').jpeg().toBuffer());
    const pipeline = imagePipeline({ transform: compose([randomResizedCrop({ width: 16, height: 16 }), horizontalFlip()]), decoder: 'native' });
    vi.mocked(decodeImage).mockClear();
    const { images } = await pipeline.run([jpegFile, jpegBytes, jpegFile, jpegBytes], new Rng(1));
    expect(images.map((i) => [i.width, i.height])).toEqual([[16, 16], [16, 16], [16, 16], [16, 16]]);
    expect(vi.mocked(decodeImage)).not.toHaveBeenCalled();
    await pipeline.run([png, icc], new Rng(1));
    expect(vi.mocked(decodeImage)).toHaveBeenCalledTimes(2);
    vi.mocked(decodeImage).mockClear();
    await imagePipeline({ transform: compose([horizontalFlip()]), decoder: 'sharp' }).run([jpegFile], new Rng(1));
    expect(vi.mocked(decodeImage)).toHaveBeenCalledTimes(1);
  });

  it('runTensor on the native decoder does the decode, warp, colour jitter and float conversion in one call, the same floats as sharp + JavaScript', async () => {
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const file = join(dir, `j${i}.jpg`);
      const pixels = Buffer.from(Array.from({ length: 120 * 90 * 3 }, (_, k) => ((k % 360) * (i + 3) + (k >> 7)) & 255));
      await sharp(pixels, { raw: { width: 120, height: 90, channels: 3 } }).jpeg({ quality: 85 }).toFile(file);
      files.push(file);
    }
    const jitter = colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2 });
    for (const transform of [
      compose([randomResizedCrop({ width: 40, height: 30 }), horizontalFlip(), rotate({ degrees: 20 }), jitter]),
      compose([jitter]), // no geometric step: the whole image, mapped
      compose([randomResizedCrop({ width: 40, height: 30 }), colorJitter({ p: 0.5 })]),
    ]) {
      for (const seed of [1, 2, 3]) {
        vi.mocked(decodeImage).mockClear();
        const native = await imagePipeline({ transform, decoder: 'native', shrinkOnLoad: false }).runTensor(files, new Rng(seed), { scale: 1 / 255 });
        expect(vi.mocked(decodeImage)).not.toHaveBeenCalled();
        const viaSharp = await imagePipeline({ transform, decoder: 'sharp', shrinkOnLoad: false }).runTensor(files, new Rng(seed), { scale: 1 / 255 });
        expect(native.records).toEqual(viaSharp.records);
        const [a, b] = await Promise.all([native.x.data(), viaSharp.x.data()]);
        expect(a.length).toBe(b.length);
        expect(a.every((value, i) => value === b[i])).toBe(true);
        native.x.dispose();
        viaSharp.x.dispose();
      }
    }
  });

  it('dctScale picks 1/8, 1/4 or 1/2 only where every output pixel still has a decoded pixel', () => {
    const map = (sx: number, sy: number, turn = 0): AffineMap => ({
      matrix: [sx * Math.cos(turn), -sy * Math.sin(turn), 0, sx * Math.sin(turn), sy * Math.cos(turn), 0],
      width: 10,
      height: 10,
    });
    expect([0.5, 1, 1.99, 2, 3.9, 4, 7.99, 8, 20].map((s) => dctScale(map(s, s)))).toEqual([8, 8, 8, 4, 4, 2, 2, 1, 1]);
    expect(dctScale(map(9, 2.5))).toBe(4); // the smaller shrink decides
    expect(dctScale(map(5, 5, 0.7))).toBe(2); // rotation does not change the shrink
  });
});
