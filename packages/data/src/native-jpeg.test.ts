import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeJpegNative, loadJpegKernels } from './native-jpeg.js';

describe('loadJpegKernels', () => {
  it('loads @convkit/native once, with decodeJpeg (this repository builds it with libjpeg-turbo)', async () => {
    const kernels = await loadJpegKernels();
    expect(kernels?.decodeJpeg, '@convkit/native must be built with libjpeg62-turbo-dev for these tests').toBeTypeOf('function');
    expect(await loadJpegKernels()).toBe(kernels);
  });
});

describe('decodeJpegNative', () => {
  const dir = mkdtempSync(join(tmpdir(), 'data-native-jpeg-'));
  const write = async (name: string, image: sharp.Sharp): Promise<string> => {
    const path = join(dir, name);
    writeFileSync(path, await image.toBuffer());
    return path;
  };
  const flat = (): sharp.Sharp => sharp({ create: { width: 400, height: 240, channels: 3, background: { r: 200, g: 40, b: 90 } } });

  it('reads the file, decodes at the scale that fits and resizes to the target', async () => {
    const kernels = (await loadJpegKernels())!;
    const path = await write('flat.jpg', flat().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }));
    const image = await decodeJpegNative(kernels, path, 30, 50);
    expect(image.length).toBe(30 * 50 * 3);
    const whole = await kernels.decodeJpeg!(path);
    for (let i = 0; i < image.length; i += 3) expect([image[i], image[i + 1], image[i + 2]]).toEqual([whole.data[0], whole.data[1], whole.data[2]]);
  });

  it('refuses what sharp must decode: an ICC profile, CMYK, another format', async () => {
    const kernels = (await loadJpegKernels())!;
    await expect(decodeJpegNative(kernels, await write('p3.jpg', flat().withIccProfile('p3').jpeg()), 8, 8)).rejects.toThrow('ICC profile');
    await expect(decodeJpegNative(kernels, await write('cmyk.jpg', flat().toColourspace('cmyk').jpeg()), 8, 8)).rejects.toThrow('CMYK');
    await expect(decodeJpegNative(kernels, await write('png.jpg', flat().png()), 8, 8)).rejects.toThrow('Not a JPEG file');
  });
});
