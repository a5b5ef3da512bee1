import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageFolder } from './image-folder.js';
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
