import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadNative } from '@convkit/native';
import type { NativeKernels } from '@convkit/native';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { checkFolderOptions, decodeImageFile, loadImageFolder } from './image-folder.js';
import { streamImageFolder } from './stream-image-folder.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-folder-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A solid-colour 6×4 (w×h) image in the given format. */
function solid(rgb: [number, number, number], format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff'): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 4, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .toFormat(format, format === 'jpeg' || format === 'webp' ? { quality: 100 } : {})
    .toBuffer();
}

/** A 24-bit bottom-up BMP, 3×2, every pixel `rgb`. */
function bmp(rgb: [number, number, number]): Uint8Array {
  const stride = 12; // 3 pixels × 3 bytes, padded to 4
  const bytes = new Uint8Array(54 + stride * 2);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x42;
  bytes[1] = 0x4d;
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, 3, true);
  view.setInt32(22, 2, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) bytes.set([rgb[2], rgb[1], rgb[0]], 54 + y * stride + x * 3);
  return bytes;
}

async function makeFolder(name: string, files: Record<string, Uint8Array | Buffer>): Promise<string> {
  const dir = join(root, name);
  for (const [path, body] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), body);
  }
  return dir;
}

describe('loadImageFolder', () => {
  it('reads one class per sorted folder, in every format, resized and in the chosen channels', async () => {
    const dir = await makeFolder('ok', {
      'red/a.png': await solid([255, 0, 0], 'png'),
      'red/b.JPG': await solid([255, 0, 0], 'jpeg'),
      'red/notes.txt': new TextEncoder().encode('ignored'),
      'blue/c.webp': await solid([0, 0, 255], 'webp'),
      'blue/d.gif': await solid([0, 0, 255], 'gif'),
      'green/e.tiff': await solid([0, 255, 0], 'tiff'),
      'green/f.bmp': bmp([0, 255, 0]),
    });
    const logged: string[] = [];
    const ds = await loadImageFolder(dir, { size: [3, 2], channels: 3, log: (line) => logged.push(line) });
    expect(ds.classNames).toEqual(['blue', 'green', 'red']);
    expect(ds.shape).toEqual([3, 2, 3]);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(ds.files).toEqual(['blue/c.webp', 'blue/d.gif', 'green/e.tiff', 'green/f.bmp', 'red/a.png', 'red/b.JPG'].map((f) => join(dir, f)));
    const expected = [[0, 0, 255], [0, 0, 255], [0, 255, 0], [0, 255, 0], [255, 0, 0], [255, 0, 0]];
    for (let i = 0; i < 6; i++) {
      for (let p = 0; p < 6; p++) {
        const pixel = Array.from(ds.images.subarray((i * 6 + p) * 3, (i * 6 + p) * 3 + 3));
        pixel.forEach((v, c) => expect(Math.abs(v - (expected[i] as number[])[c]!)).toBeLessThanOrEqual(3));
      }
    }
    expect(ds.skipped).toEqual([]);
    expect(logged).toEqual([`loadImageFolder: 6 images 3×2×3 in 3 classes from ${dir}`]);

    const gray = await loadImageFolder(dir, { size: [2, 2], channels: 1, classNames: ['red', 'green'], log: false });
    expect(gray.shape).toEqual([2, 2, 1]);
    expect(Array.from(gray.labels)).toEqual([0, 0, 1, 1]);
    // libvips converts through linear light: luminance Y = 0.2126 (red), 0.7152 (green), re-encoded as sRGB → 127, 220.
    expect(Math.abs((gray.images[0] as number) - 127)).toBeLessThanOrEqual(2);
    expect(Math.abs((gray.images[3] as number) - 127)).toBeLessThanOrEqual(2);
    expect(Math.abs((gray.images[12] as number) - 220)).toBeLessThanOrEqual(2);
  });

  it('names every unreadable file, or skips and reports them with onError: skip', async () => {
    const junk = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256);
    const dir = await makeFolder('corrupt', { 'a/good.png': await solid([9, 9, 9], 'png'), 'a/bad.jpg': junk, 'b/good.png': await solid([9, 9, 9], 'png') });
    await expect(loadImageFolder(dir, { size: [2, 2], log: false })).rejects.toThrow(
      `1 image in ${dir} could not be decoded (pass onError: 'skip' to skip them):\n  ${join(dir, 'a', 'bad.jpg')}: `,
    );
    const logged: string[] = [];
    const ds = await loadImageFolder(dir, { size: [2, 2], onError: 'skip', concurrency: 1, log: (line) => logged.push(line) });
    expect(ds.length).toBe(2);
    expect(ds.skipped).toEqual([join(dir, 'a', 'bad.jpg')]);
    expect(ds.files).toEqual([join(dir, 'a', 'good.png'), join(dir, 'b', 'good.png')]);
    expect(logged[0]).toMatch(new RegExp(`^loadImageFolder: skipped ${join(dir, 'a', 'bad.jpg')}: `));
    expect(logged[1]).toMatch(/, 1 skipped$/);
  });

  it('rejects a folder without class folders, with an empty class folder, or with no images', async () => {
    await expect(loadImageFolder(join(root, 'missing'), { size: [2, 2], log: false })).rejects.toThrow(
      `dir must be a readable folder of class folders (received "${join(root, 'missing')}": ENOENT`,
    );
    const flat = await makeFolder('flat', { 'x.png': await solid([1, 2, 3], 'png') });
    await expect(loadImageFolder(flat, { size: [2, 2], log: false })).rejects.toThrow(`${flat} has no class folders`);
    const oneEmpty = await makeFolder('one-empty', { 'cat/x.png': await solid([1, 2, 3], 'png'), 'dog/readme.txt': new Uint8Array(1) });
    await expect(loadImageFolder(oneEmpty, { size: [2, 2], log: false })).rejects.toThrow(`class folder ${join(oneEmpty, 'dog')} of ${oneEmpty} has no images`);
    const none = await makeFolder('none', { 'cat/readme.txt': new Uint8Array(1), 'dog/readme.txt': new Uint8Array(1) });
    await expect(loadImageFolder(none, { size: [2, 2], log: false })).rejects.toThrow(`${none} has no images in its class folders cat, dog`);
    await expect(loadImageFolder(oneEmpty, { size: [2, 0], log: false })).rejects.toThrow('size must be [height, width], two positive integers (received [2,0])');
    await expect(loadImageFolder(oneEmpty, { size: [2, 2], classNames: ['cow'], log: false })).rejects.toThrow(`classNames names folders missing from ${oneEmpty}: cow`);
  });
});

describe('awkward image folders (both kinds of image-folder dataset)', () => {
  it('converts mixed sizes and modes alike, ignores non-image files, follows symlinks and logs nested folders', async () => {
    const gray = await sharp({ create: { width: 9, height: 5, channels: 3, background: '#808080' } }).grayscale().png().toBuffer();
    const rgba = await sharp({ create: { width: 3, height: 7, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const palette = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#00c800' } }).png({ palette: true }).toBuffer();
    const deep = await sharp({ create: { width: 5, height: 3, channels: 3, background: '#0000c8' } }).png().toColourspace('rgb16').toBuffer();
    const cmyk = await sharp({ create: { width: 6, height: 6, channels: 3, background: '#c8c8c8' } }).toColourspace('cmyk').jpeg().toBuffer();
    const dir = await makeFolder('awkward', {
      'a/gray.png': gray,
      'a/rgba.png': rgba,
      'a/notes.md': new TextEncoder().encode('# not an image'),
      'a/deeper/hidden.png': gray,
      'b/palette.png': palette,
      'b/deep.png': deep,
      'b/cmyk.jpg': cmyk,
    });
    await symlink(join(dir, 'b', 'palette.png'), join(dir, 'a', 'link.png'));
    const logged: string[] = [];
    const memory = await loadImageFolder(dir, { size: [2, 2], log: (line) => logged.push(line) });
    expect(memory.files.map((f) => f.slice(dir.length + 1))).toEqual(['a/gray.png', 'a/link.png', 'a/rgba.png', 'b/cmyk.jpg', 'b/deep.png', 'b/palette.png']);
    expect(logged[0]).toBe(`loadImageFolder: not read (folders inside a class folder are not searched): ${join(dir, 'a', 'deeper')}`);
    const firstPixel = (i: number): number[] => Array.from(memory.images.subarray(i * 12, i * 12 + 3));
    const near = (got: number[], want: number[]): void => got.forEach((v, c) => expect(Math.abs(v - want[c]!)).toBeLessThanOrEqual(4));
    near(firstPixel(0), [128, 128, 128]);
    near(firstPixel(1), [0, 200, 0]);
    near(firstPixel(2), [100, 0, 0]); // alpha 0.5 flattened onto black
    near(firstPixel(4), [0, 0, 200]);
    near(firstPixel(5), [0, 200, 0]);
    const streaming = await streamImageFolder(dir, { size: [2, 2], log: false });
    expect(streaming.files).toEqual(memory.files);
    expect(Array.from(await streaming.readRows([0, 1, 2, 3, 4, 5]))).toEqual(Array.from(memory.images));
  });

  it('names a dangling symlink (an unreadable file) and a non-image with an image extension, in both kinds', async () => {
    const dir = await makeFolder('unreadable', { 'a/ok.png': await solid([1, 2, 3], 'png'), 'b/text.png': new TextEncoder().encode('hello') });
    await symlink(join(dir, 'nowhere.png'), join(dir, 'a', 'gone.png'));
    await expect(loadImageFolder(dir, { size: [2, 2], log: false })).rejects.toThrow(
      `2 images in ${dir} could not be decoded (pass onError: 'skip' to skip them):\n  ${join(dir, 'a', 'gone.png')}: ENOENT`,
    );
    const streaming = await streamImageFolder(dir, { size: [2, 2], log: false });
    await expect(streaming.readRows([0])).rejects.toThrow(
      `${join(dir, 'a', 'gone.png')} (row 0, class "a") must be an image file decodable to 2×2×3, but the file is missing (deleted after the folder was listed, or a dangling link)`,
    );
    await expect(streaming.readRows([2])).rejects.toThrow(`${join(dir, 'b', 'text.png')} (row 2, class "b") must be an image file decodable to 2×2×3, but it cannot be decoded (`);
    await expect(streamImageFolder(join(dir, 'a'), { size: [2, 2], log: false })).rejects.toThrow(`${join(dir, 'a')} has no class folders`);
  });
});

/**
 * A `width × height` RGB test card whose channels vary at known frequencies in output pixels (`periodX` wide in red,
 * `periodY` high in green, a diagonal ramp in blue), with the picture moved right by `shiftX` input pixels.
 */
function testCard(width: number, height: number, periodX: number, periodY: number, shiftX = 0): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      pixels[o] = 128 + 100 * Math.sin((2 * Math.PI * (x - shiftX)) / periodX);
      pixels[o + 1] = 128 + 100 * Math.sin((2 * Math.PI * y) / periodY);
      pixels[o + 2] = ((x - shiftX + 2 * y) * 255) / (width + 2 * height);
    }
  }
  return pixels;
}

function cardJpeg(width: number, height: number, target: [number, number], shiftX = 0): Promise<Buffer> {
  const [targetHeight, targetWidth] = target;
  const card = testCard(width, height, (16 * width) / targetWidth, (12 * height) / targetHeight, shiftX);
  return sharp(card, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

function meanAbsoluteDifference(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

describe('decodeImageFile', () => {
  let decodeJpeg: MockInstance<NonNullable<NativeKernels['decodeJpeg']>>;
  beforeEach(() => {
    decodeJpeg = vi.spyOn(loadNative() as Required<NativeKernels>, 'decodeJpeg');
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  const write = async (name: string, bytes: Uint8Array): Promise<string> => {
    const path = join(root, name);
    await writeFile(path, bytes);
    return path;
  };

  it.each([
    { source: [500, 500], size: [64, 64], scale: 2 },
    { source: [500, 500], size: [128, 128], scale: 4 },
    { source: [400, 240], size: [30, 50], scale: 1 },
    { source: [240, 400], size: [90, 70], scale: 4 },
  ] as const)('decodes a $source.0×$source.1 JPEG to $size through libjpeg-turbo at scale $scale, within 2 levels of sharp', async ({ source, size, scale }) => {
    const [width, height] = source;
    const [targetHeight, targetWidth] = size;
    const bytes = await cardJpeg(width, height, [targetHeight, targetWidth]);
    const path = await write(`card-${width}x${height}-${targetHeight}x${targetWidth}.jpg`, bytes);
    const native = await decodeImageFile(path, targetHeight, targetWidth, 3);
    expect(decodeJpeg).toHaveBeenCalledTimes(1);
    expect(decodeJpeg.mock.calls[0]).toEqual([path, { scale: 'fit', resize: { width: targetWidth, height: targetHeight }, refuseIccProfile: true }]);
    expect(native.length).toBe(targetHeight * targetWidth * 3);
    // Exactly libjpeg-turbo's result at that scale: the native path ran and nothing after it touched the pixels.
    const direct = await loadNative().decodeJpeg!(bytes, { scale, resize: { width: targetWidth, height: targetHeight } });
    expect(Buffer.from(native).equals(Buffer.from(direct.data))).toBe(true);

    const viaSharp = await decodeImageFile(path, targetHeight, targetWidth, 3, 'sharp');
    expect(decodeJpeg).toHaveBeenCalledTimes(2); // the direct call above; 'sharp' did not call it
    const difference = meanAbsoluteDifference(native, viaSharp);
    expect(difference).toBeLessThan(2);
    // The bound has teeth: the same card moved by half an output pixel, or read transposed, is far outside it.
    const moved = await decodeImageFile(await write('moved.jpg', await cardJpeg(width, height, [targetHeight, targetWidth], width / targetWidth / 2)), targetHeight, targetWidth, 3, 'sharp');
    expect(meanAbsoluteDifference(native, moved)).toBeGreaterThan(3.5);
    const transposed = new Uint8Array(native.length);
    if (targetHeight === targetWidth) {
      for (let y = 0; y < targetHeight; y++) for (let x = 0; x < targetWidth; x++) transposed.set(native.subarray((x * targetWidth + y) * 3, (x * targetWidth + y) * 3 + 3), (y * targetWidth + x) * 3);
      expect(meanAbsoluteDifference(transposed, viaSharp)).toBeGreaterThan(20);
    }
  });

  it('leaves PNG, 1-channel requests, ICC-profiled and CMYK JPEGs to sharp (libjpeg-turbo refuses the last two), with its results', async () => {
    const card = testCard(120, 80, 20, 16);
    const raw = { raw: { width: 120, height: 80, channels: 3 } } as const;
    const png = await write('card.png', await sharp(card, raw).png().toBuffer());
    const plain = await write('card.jpg', await sharp(card, raw).jpeg({ quality: 95 }).toBuffer());
    const p3Bytes = await sharp(card, raw).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
    const p3 = await write('card-p3.jpg', p3Bytes);
    const cmyk = await write('card-cmyk.jpg', await sharp(card, raw).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer());
    for (const [path, channels] of [[png, 3], [plain, 1], [p3, 3], [cmyk, 3]] as const) {
      const auto = await decodeImageFile(path, 20, 30, channels);
      expect(Buffer.from(auto).equals(Buffer.from(await decodeImageFile(path, 20, 30, channels, 'sharp'))), path).toBe(true);
      expect(auto.length).toBe(20 * 30 * channels);
    }
    // Only the two JPEGs asked for in RGB were tried natively, and refused.
    expect(decodeJpeg.mock.calls.map((call) => call[0])).toEqual([p3, cmyk]);
    await expect(decodeJpeg.mock.results[0]!.value).rejects.toThrow('the JPEG has an ICC profile');
    await expect(decodeJpeg.mock.results[1]!.value).rejects.toThrow('CMYK JPEGs are not decoded here');
    // Why the ICC file goes to sharp: it converts P3 to sRGB through the profile, libjpeg-turbo would not.
    const direct = await loadNative().decodeJpeg!(p3Bytes, { scale: 8, resize: { width: 30, height: 20 } });
    expect(meanAbsoluteDifference(direct.data, await decodeImageFile(p3, 20, 30, 3))).toBeGreaterThan(2);
  });

  it('leaves every file to sharp with jpegDecoder: sharp or CONVKIT_JPEG_DECODER=sharp, and rejects other values', async () => {
    const dir = await makeFolder('opt-out', { 'a/card.jpg': await cardJpeg(200, 200, [32, 32]), 'b/card.jpg': await cardJpeg(200, 200, [32, 32], 3) });
    const sharpOnly = await loadImageFolder(dir, { size: [32, 32], jpegDecoder: 'sharp', log: false });
    expect(decodeJpeg).not.toHaveBeenCalled();
    vi.stubEnv('CONVKIT_JPEG_DECODER', 'sharp');
    const fromEnvironment = await loadImageFolder(dir, { size: [32, 32], log: false });
    const streamed = await streamImageFolder(dir, { size: [32, 32], log: false });
    expect(Array.from(await streamed.readRows([0, 1]))).toEqual(Array.from(sharpOnly.images));
    expect(Array.from(fromEnvironment.images)).toEqual(Array.from(sharpOnly.images));
    expect(decodeJpeg).not.toHaveBeenCalled();
    const overridden = await loadImageFolder(dir, { size: [32, 32], jpegDecoder: 'auto', log: false });
    expect(decodeJpeg).toHaveBeenCalledTimes(2);
    expect(Array.from(overridden.images)).not.toEqual(Array.from(sharpOnly.images));

    expect(checkFolderOptions({ size: [2, 2] }, {}).jpegDecoder).toBe('auto');
    expect(checkFolderOptions({ size: [2, 2] }, { CONVKIT_JPEG_DECODER: 'sharp' }).jpegDecoder).toBe('sharp');
    expect(checkFolderOptions({ size: [2, 2], jpegDecoder: 'auto' }, { CONVKIT_JPEG_DECODER: 'sharp' }).jpegDecoder).toBe('auto');
    expect(() => checkFolderOptions({ size: [2, 2] }, { CONVKIT_JPEG_DECODER: 'libjpeg' })).toThrow(`CONVKIT_JPEG_DECODER must be one of 'auto', 'sharp' (received "libjpeg")`);
    expect(() => checkFolderOptions({ size: [2, 2], jpegDecoder: 'native' as 'auto' }, {})).toThrow(`jpegDecoder must be one of 'auto', 'sharp' (received "native")`);
  });

  it("tries libjpeg-turbo on a truncated or corrupt JPEG, then fails with sharp's error naming the file, in both kinds", async () => {
    const whole = await cardJpeg(500, 500, [64, 64]);
    const corrupt = Buffer.from(whole);
    corrupt.fill(0xff, 2000, 2400);
    const dir = await makeFolder('broken-jpeg', { 'a/cut.jpg': whole.subarray(0, Math.floor(whole.length * 0.6)), 'b/corrupt.jpg': corrupt });
    const error = await loadImageFolder(dir, { size: [64, 64], log: false }).then(() => undefined, (caught: Error) => caught);
    expect(error?.message).toContain(`2 images in ${dir} could not be decoded (pass onError: 'skip' to skip them):\n  ${join(dir, 'a', 'cut.jpg')}: `);
    // Each file named with sharp's reason (libvips keeps one error buffer for all threads, so with both files decoded
    // at once a message may carry the other file's line too: assert the file and sharp's wording, not the exact text).
    expect(error?.message).toContain(`\n  ${join(dir, 'b', 'corrupt.jpg')}: `);
    expect(error?.message).toMatch(/VipsJpeg: Corrupt JPEG data/);
    expect(error?.message).not.toContain('decodeJpeg'); // sharp's messages, not libjpeg-turbo's
    expect(decodeJpeg).toHaveBeenCalledTimes(2);
    for (const result of decodeJpeg.mock.results) await expect(result.value).rejects.toThrow(/^decodeJpeg: /);
    const streaming = await streamImageFolder(dir, { size: [64, 64], log: false });
    await expect(streaming.readRows([1])).rejects.toThrow(`${join(dir, 'b', 'corrupt.jpg')} (row 1, class "b") must be an image file decodable to 64×64×3, but it cannot be decoded (VipsJpeg: Corrupt JPEG data`);
  });

  it('gives the in-memory and the streaming dataset the same bytes for JPEGs decoded by libjpeg-turbo', async () => {
    const dir = await makeFolder('native-agree', {
      'a/one.jpg': await cardJpeg(500, 500, [64, 64]),
      'a/two.jpg': await cardJpeg(333, 500, [64, 64], 5),
      'b/grey.jpg': await sharp(testCard(300, 200, 30, 30), { raw: { width: 300, height: 200, channels: 3 } }).toColourspace('b-w').jpeg().toBuffer(),
    });
    const memory = await loadImageFolder(dir, { size: [64, 64], log: false });
    expect(decodeJpeg).toHaveBeenCalledTimes(3);
    const streaming = await streamImageFolder(dir, { size: [64, 64], log: false });
    expect(Buffer.from(await streaming.readRows([0, 1, 2])).equals(Buffer.from(memory.images))).toBe(true);
    expect(decodeJpeg).toHaveBeenCalledTimes(6);
    // The grey JPEG comes out RGB, three equal channels.
    const grey = memory.images.subarray(2 * 64 * 64 * 3);
    for (let i = 0; i < grey.length; i += 3) expect([grey[i + 1], grey[i + 2]]).toEqual([grey[i], grey[i]]);
  });
});
