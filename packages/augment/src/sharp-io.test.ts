import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { compose, decodeImage, horizontalFlip, imagePipeline, imageSize, imagesToTensor, randomResizedCrop, rotate } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'augment-'));
async function jpeg(name: string, width: number, height: number): Promise<string> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 251;
  const file = join(dir, name);
  await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg().toFile(file);
  return file;
}

describe('decoding and the image pipeline', () => {
  it('reads the size from the header and decodes to raw RGB', async () => {
    const file = await jpeg('a.jpg', 20, 12);
    expect(await imageSize(file)).toEqual({ width: 20, height: 12, channels: 3 });
    const image = await decodeImage(file);
    expect([image.width, image.height, image.channels, image.data.length]).toEqual([20, 12, 3, 720]);
  });
  it('a corrupt JPEG fails with an error naming the file and its index', async () => {
    const bad = join(dir, 'bad.jpg');
    const rng = new Rng(1);
    writeFileSync(bad, Uint8Array.from({ length: 64 }, () => rng.int(0, 256)));
    const pipeline = imagePipeline({ transform: compose([horizontalFlip()]) });
    await expect(pipeline.run([await jpeg('b.jpg', 8, 8), bad], new Rng(0))).rejects.toThrow(/bad\.jpg.*index 1/);
  });
  it('gives the same output with or without the cache and shrink-on-load is replayable', async () => {
    const files = [await jpeg('c.jpg', 64, 48), await jpeg('d.jpg', 48, 64)];
    const transform = compose([randomResizedCrop({ width: 16, height: 16 }), horizontalFlip(), rotate()]);
    const plain = await imagePipeline({ transform, shrinkOnLoad: false }).run(files, new Rng(5));
    const cached = imagePipeline({ transform, cache: true });
    const first = await cached.run(files, new Rng(5));
    const again = await cached.run(files, new Rng(5));
    expect(first.images.map((i) => Array.from(i.data))).toEqual(plain.images.map((i) => Array.from(i.data)));
    expect(again.images[1]!.data).toEqual(first.images[1]!.data);
    const shrunk = await imagePipeline({ transform }).run(files, new Rng(5));
    expect(shrunk.records).toEqual(plain.records);
    await expectNoLeak(async () => {
      const x = imagesToTensor(shrunk.images);
      expect(x.shape).toEqual([2, 16, 16, 3]);
      const max = x.max();
      expect((await max.data())[0]).toBeLessThanOrEqual(1);
      tf.dispose([x, max]);
    });
  });
});
