import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadNative } from './index.js';

/** PIL's decodes and antialiased bilinear resizes of one JPEG (scripts/make-jpeg-fixture.py). */
const pil = JSON.parse(readFileSync(new URL('./fixtures/jpeg-pil.json', import.meta.url), 'utf8')) as {
  jpeg: string;
  cases: Array<{ scale: number; resize: [number, number] | null; width: number; height: number; rgb: string }>;
};

// References: sharp (libvips on its own libjpeg-turbo) for the full decode, and a direct bilinear warp of that
// decode (augment's warpAffine rule, written out below) for the region decode with a warp.
const native = loadNative();
const decodeJpeg = native.decodeJpeg!;

function pattern(width: number, height: number, seed: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      raw[o] = (x * 3 + seed * 13 + ((y >> 3) & 1) * 90) & 255;
      raw[o + 1] = (y * 2 + seed * 7) & 255;
      raw[o + 2] = ((x ^ y) + seed) & 255;
    }
  }
  return raw;
}

async function encode(width: number, height: number, options: sharp.JpegOptions = {}, seed = 1): Promise<Uint8Array> {
  const buffer = await sharp(pattern(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 90, ...options }).toBuffer();
  return new Uint8Array(buffer);
}

async function sharpDecode(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Bilinear inverse-map resampling: output centre (u+½, v+½) reads M·(u+½, v+½, 1); outside reads fill. */
function referenceWarp(image: { data: Uint8Array; width: number; height: number }, m: number[], width: number, height: number, fill = 0): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  const px = (x: number, y: number, k: number): number => image.data[(y * image.width + x) * 3 + k]!;
  let o = 0;
  for (let v = 0; v < height; v++) {
    let x = m[0]! * 0.5 + m[1]! * (v + 0.5) + m[2]!;
    let y = m[3]! * 0.5 + m[4]! * (v + 0.5) + m[5]!;
    for (let u = 0; u < width; u++, x += m[0]!, y += m[3]!) {
      if (!(x >= 0 && x <= image.width && y >= 0 && y <= image.height)) {
        out.fill(fill, o, o + 3);
        o += 3;
        continue;
      }
      const sx = Math.min(maxX, Math.max(0, x - 0.5));
      const sy = Math.min(maxY, Math.max(0, y - 0.5));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const wx = sx - x0;
      const wy = sy - y0;
      const x1 = Math.min(x0 + 1, maxX);
      const y1 = Math.min(y0 + 1, maxY);
      for (let k = 0; k < 3; k++) {
        const value = px(x0, y0, k) * ((1 - wx) * (1 - wy)) + px(x1, y0, k) * (wx * (1 - wy)) + px(x0, y1, k) * ((1 - wx) * wy) + px(x1, y1, k) * (wx * wy);
        out[o++] = Math.floor(value + 0.5);
      }
    }
  }
  return out;
}

function rotationAbout(cx: number, cy: number, degrees: number, scale: number, ox: number, oy: number): number[] {
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t) * scale;
  const sin = Math.sin(t) * scale;
  // Output centre (ox, oy) reads the input at (cx, cy), rotated and scaled about it.
  return [cos, -sin, cx - cos * ox + sin * oy, sin, cos, cy - sin * ox - cos * oy];
}

describe('decodeJpeg', () => {
  it.each([
    ['4:2:0', { chromaSubsampling: '4:2:0' }],
    ['4:4:4', { chromaSubsampling: '4:4:4' }],
    ['progressive', { progressive: true }],
    ['odd size, restart-free', {}],
  ] as const)('decodes %s JPEGs to the same bytes as sharp', async (name, options) => {
    const bytes = await encode(name.startsWith('odd') ? 123 : 96, name.startsWith('odd') ? 77 : 64, options);
    const image = await decodeJpeg(bytes);
    const reference = await sharpDecode(bytes);
    expect([image.width, image.height, image.channels]).toEqual([reference.width, reference.height, 3]);
    expect(Buffer.from(image.data).equals(Buffer.from(reference.data))).toBe(true);
  });

  it('decodes greyscale JPEGs to RGB with three equal channels', async () => {
    const bytes = new Uint8Array(await sharp(pattern(40, 30, 2), { raw: { width: 40, height: 30, channels: 3 } }).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer());
    expect((await sharp(bytes).metadata()).channels).toBe(1);
    const image = await decodeJpeg(bytes);
    const grey = await sharp(bytes).extractChannel(0).raw().toBuffer();
    expect(grey.length).toBe(40 * 30);
    for (let i = 0; i < 40 * 30; i++) {
      expect([image.data[i * 3], image.data[i * 3 + 1], image.data[i * 3 + 2]]).toEqual([grey[i], grey[i], grey[i]]);
    }
  });

  it('decodes at scale/8 of the size, close to the full decode averaged over scale blocks', async () => {
    const bytes = await encode(200, 120, { chromaSubsampling: '4:4:4' });
    const full = await decodeJpeg(bytes);
    for (const scale of [4, 2, 1, 5]) {
      const image = await decodeJpeg(bytes, { scale });
      expect([image.width, image.height]).toEqual([Math.ceil((200 * scale) / 8), Math.ceil((120 * scale) / 8)]);
      // Each output pixel covers a block of 8/scale input pixels (for scale 5, not whole pixels: compare to the
      // nearest block). The mean difference is a few levels; a wrong scale or offset gives tens.
      const block = 8 / scale;
      let total = 0;
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          for (let k = 0; k < 3; k++) {
            let sum = 0;
            let count = 0;
            for (let yy = Math.round(y * block); yy < Math.min(120, Math.round((y + 1) * block)); yy++) {
              for (let xx = Math.round(x * block); xx < Math.min(200, Math.round((x + 1) * block)); xx++) {
                sum += full.data[(yy * 200 + xx) * 3 + k]!;
                count++;
              }
            }
            total += Math.abs(image.data[(y * image.width + x) * 3 + k]! - sum / count);
          }
        }
      }
      expect(total / (image.width * image.height * 3)).toBeLessThan(scale === 5 ? 12 : 6);
    }
  });

  it('with a warp, decodes the rows and columns read and gives the bytes of warping the full decode', async () => {
    const bytes = await encode(500, 375, {}, 3);
    const cases: Array<{ m: number[]; w: number; h: number; scale: number; fill?: number }> = [
      { m: [300 / 224, 0, 100, 0, 300 / 224, 50], w: 224, h: 224, scale: 8 }, // a resized crop
      { m: [-150 / 224, 0, 420, 0, 150 / 224, 200], w: 224, h: 224, scale: 8 }, // flipped, upsampled, at the right edge
      { m: rotationAbout(250, 187, 15, 1.3, 112, 112), w: 224, h: 224, scale: 8, fill: 7 }, // rotated, corners outside
      { m: [1, 0, 0, 0, 1, 0], w: 500, h: 375, scale: 8 }, // the whole image: exactly the pixels
      { m: [1, 0, 3, 0, 1, 371], w: 40, h: 10, scale: 8 }, // the last rows, partly outside
      { m: [440 / 224 / 2, 0, 20, 0, 300 / 224 / 2, 30], w: 224, h: 224, scale: 4 }, // map into the 1/2 decode
      { m: rotationAbout(30, 40, -10, 0.9, 16, 16), w: 32, h: 32, scale: 2 },
    ];
    for (const { m, w, h, scale, fill } of cases) {
      const whole = await decodeJpeg(bytes, { scale });
      const expected = referenceWarp(whole, m, w, h, fill);
      const image = await decodeJpeg(bytes, { scale, warp: { matrix: m, width: w, height: h, fill } });
      expect([image.width, image.height]).toEqual([w, h]);
      const differing = image.data.reduce((count, value, i) => count + (value !== expected[i] ? 1 : 0), 0);
      expect({ m, scale, differing }).toEqual({ m, scale, differing: 0 });
    }
  });

  it('decodes and scales as PIL does on the same libjpeg-turbo, and resizes within one level of PIL', async () => {
    const bytes = new Uint8Array(Buffer.from(pil.jpeg, 'base64'));
    for (const { scale, resize, width, height, rgb } of pil.cases) {
      const expected = Buffer.from(rgb, 'base64');
      const image = await decodeJpeg(bytes, { scale, ...(resize === null ? {} : { resize: { width: resize[0], height: resize[1] } }) });
      expect([image.width, image.height]).toEqual([width, height]);
      if (resize === null) {
        expect(Buffer.from(image.data).equals(expected)).toBe(true);
        continue;
      }
      // PIL rounds to bytes between its two passes and computes in fixed point; the filter is the same.
      let largest = 0;
      let total = 0;
      image.data.forEach((value, i) => {
        const difference = Math.abs(value - expected[i]!);
        largest = Math.max(largest, difference);
        total += difference;
      });
      expect(largest, `scale ${scale}, resize ${resize.join('×')}`).toBeLessThanOrEqual(1);
      expect(total / image.data.length).toBeLessThan(0.25);
    }
  });

  it('resizes a flat image to the same flat colour and leaves an image of the same size alone', async () => {
    const flat = new Uint8Array(await sharp({ create: { width: 50, height: 30, channels: 3, background: { r: 200, g: 10, b: 90 } } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer());
    const whole = await decodeJpeg(flat);
    for (const [width, height] of [[17, 9], [50, 30], [73, 41]] as const) {
      const image = await decodeJpeg(flat, { resize: { width, height } });
      const pixel = [whole.data[0], whole.data[1], whole.data[2]];
      for (let i = 0; i < width * height; i++) expect([image.data[i * 3], image.data[i * 3 + 1], image.data[i * 3 + 2]]).toEqual(pixel);
    }
    const bytes = await encode(40, 24);
    expect(Buffer.from((await decodeJpeg(bytes, { resize: { width: 40, height: 24 } })).data).equals(Buffer.from((await decodeJpeg(bytes)).data))).toBe(true);
  });

  it('with into, writes the (colour-mapped) values times scale as floats, the colour map taken with the mean grey', async () => {
    const bytes = await encode(90, 70, {}, 4);
    const warp = { matrix: rotationAbout(45, 35, 12, 0.8, 20, 15), width: 40, height: 30 };
    const image = await decodeJpeg(bytes, { warp });
    const color = { matrix: [0.9, 0.1, 0.05, -0.1, 1.1, 0.02, 0.03, -0.2, 0.95], offset: [0.5, 0.5, 0.5], greyGain: [0.3, -0.2, 0.1] };
    let sum = 0;
    for (let i = 0; i < image.data.length; i += 3) sum += 0.299 * image.data[i]! + 0.587 * image.data[i + 1]! + 0.114 * image.data[i + 2]!;
    const mean = sum / (40 * 30);
    const expected = new Float32Array(7 + 40 * 30 * 3);
    const m = color.matrix;
    for (let i = 0; i < 40 * 30 * 3; i += 3) {
      for (let k = 0; k < 3; k++) {
        const v = m[k * 3]! * image.data[i]! + m[k * 3 + 1]! * image.data[i + 1]! + m[k * 3 + 2]! * image.data[i + 2]! + (color.greyGain[k]! * mean + color.offset[k]!);
        expected[7 + i + k] = (v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v)) / 255;
      }
    }
    const out = new Float32Array(expected.length).fill(-1);
    const result = await decodeJpeg(bytes, { warp, color, into: { out, offset: 7, scale: 1 / 255 } });
    expect([result.width, result.height, result.data.length]).toEqual([40, 30, 0]);
    expect(Array.from(out.subarray(0, 7))).toEqual([-1, -1, -1, -1, -1, -1, -1]);
    expect(out.subarray(7).every((value, i) => value === expected[7 + i])).toBe(true);
    // Without a colour map: the bytes times scale; with a resize: its size.
    const plain = new Float32Array(40 * 30 * 3);
    await decodeJpeg(bytes, { warp, into: { out: plain, scale: 2 } });
    expect(plain.every((value, i) => value === image.data[i]! * 2)).toBe(true);
    const resized = await decodeJpeg(bytes, { resize: { width: 9, height: 7 } });
    const resizedInto = new Float32Array(9 * 7 * 3);
    await decodeJpeg(bytes, { resize: { width: 9, height: 7 }, into: { out: resizedInto } });
    expect(resizedInto.every((value, i) => value === resized.data[i])).toBe(true);
  });

  it('reads a path on the thread pool, picks the scale that fits a resize, and can refuse ICC profiles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native-jpeg-'));
    const bytes = await encode(200, 120, {}, 5);
    const file = join(dir, 'a.jpg');
    writeFileSync(file, bytes);
    expect(Buffer.from((await decodeJpeg(file)).data).equals(Buffer.from((await decodeJpeg(bytes)).data))).toBe(true);
    await expect(decodeJpeg(join(dir, 'missing.jpg'))).rejects.toThrow(`decodeJpeg: cannot open ${join(dir, 'missing.jpg')}: No such file or directory`);
    // 'fit': 200×120 to 50×30 fits 1/4 (50×30), to 51×30 needs 1/2 (100×60), to 120×70 the full size.
    for (const [width, height, scale] of [[50, 30, 2], [25, 15, 1], [51, 30, 4], [100, 61, 8], [120, 70, 8]] as const) {
      const fitted = await decodeJpeg(file, { scale: 'fit', resize: { width, height } });
      const chosen = await decodeJpeg(bytes, { scale, resize: { width, height } });
      expect(Buffer.from(fitted.data).equals(Buffer.from(chosen.data)), `${width}×${height}`).toBe(true);
      if (scale > 1) {
        const smaller = await decodeJpeg(bytes, { scale: scale / 2, resize: { width, height } });
        expect(Buffer.from(fitted.data).equals(Buffer.from(smaller.data)), `${width}×${height} not at ${scale / 2}`).toBe(false);
      }
    }
    const icc = new Uint8Array(await sharp(pattern(32, 24, 1), { raw: { width: 32, height: 24, channels: 3 } }).withIccProfile('p3').jpeg().toBuffer());
    await expect(decodeJpeg(icc, { refuseIccProfile: true })).rejects.toThrow('decodeJpeg: the JPEG has an ICC profile (refused: refuseIccProfile)');
    await expect(decodeJpeg(icc)).resolves.toMatchObject({ width: 32, height: 24 });
    await expect(decodeJpeg(bytes, { refuseIccProfile: true })).resolves.toMatchObject({ width: 200, height: 120 });
  });

  it('refuses a header that claims more than sharp\'s pixel limit instead of allocating it', async () => {
    const bytes = await encode(16, 16);
    const claimed = Uint8Array.from(bytes);
    const sof = claimed.findIndex((value, i) => value === 0xff && claimed[i + 1] === 0xc0);
    claimed.set([0xfd, 0xe8, 0xfd, 0xe8], sof + 5); // 65000 × 65000
    await expect(decodeJpeg(claimed)).rejects.toThrow('decodeJpeg: the JPEG claims 65000×65000 pixels, more than the limit of 268,402,689');
    await expect(decodeJpeg(bytes)).resolves.toMatchObject({ width: 16, height: 16 });
  });

  it('runs decodes at once on its threads, each with its own result', async () => {
    const images = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => encode(64, 48, {}, seed)));
    const decoded = await Promise.all(images.map((bytes) => decodeJpeg(bytes)));
    const references = await Promise.all(images.map((bytes) => sharpDecode(bytes)));
    decoded.forEach((image, i) => expect(Buffer.from(image.data).equals(Buffer.from(references[i]!.data))).toBe(true));
  });

  it('decodes on its own threads, one per CPU, at a lower priority (nice + 10) than the thread that asked', async () => {
    await decodeJpeg(await encode(64, 48));
    const nice = (task: string): number => {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const base = nice(String(process.pid));
    const lowered = readdirSync('/proc/self/task').filter((task) => nice(task) === Math.min(19, base + 10));
    expect(lowered).toHaveLength(availableParallelism());
  });

  it('decodes in worker threads too, and survives a worker ended with decodes pending', async () => {
    const bytes = await encode(120, 90, {}, 3);
    const expected = await decodeJpeg(bytes, { scale: 4 });
    // Workers load plain JavaScript: the built package, built from these sources first.
    execFileSync(process.execPath, [fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url)), '-b', fileURLToPath(new URL('..', import.meta.url))]);
    const addon = new URL('../dist/index.js', import.meta.url).href;
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.addon).then(async ({ loadNative }) => {
        const native = loadNative();
        if (workerData.pending) {
          for (let i = 0; i < 50; i++) native.decodeJpeg(workerData.bytes);
          parentPort.postMessage('queued');
          return;
        }
        const decoded = await native.decodeJpeg(workerData.bytes, { scale: 4 });
        parentPort.postMessage({ data: decoded.data, width: decoded.width, height: decoded.height });
      });`;
    const run = (pending: boolean): Promise<{ worker: Worker; message: unknown }> =>
      new Promise((resolve, reject) => {
        const worker = new Worker(source, { eval: true, workerData: { addon, bytes, pending } });
        worker.once('message', (message) => resolve({ worker, message }));
        worker.once('error', reject);
      });
    const inWorker = await run(false);
    expect(inWorker.message).toEqual({ data: expected.data, width: expected.width, height: expected.height });
    await inWorker.worker.terminate();
    const busy = await run(true);
    expect(busy.message).toBe('queued');
    await busy.worker.terminate(); // its 50 decodes finish after it is gone
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await decodeJpeg(bytes, { scale: 4 })).data).toEqual(expected.data);
  });

  it('rejects broken, truncated and CMYK files with libjpeg\'s reason', async () => {
    const bytes = await encode(64, 256);
    await expect(decodeJpeg(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(/^decodeJpeg: Not a JPEG file/);
    await expect(decodeJpeg(bytes.subarray(0, bytes.length >> 1))).rejects.toThrow(/^decodeJpeg: Premature end of JPEG file/);
    // A warp that reads only the first rows stops decoding before the data ends.
    await expect(decodeJpeg(bytes.subarray(0, bytes.length >> 1), { warp: { matrix: [1, 0, 0, 0, 1, 0], width: 8, height: 8 } })).resolves.toMatchObject({ width: 8 });
    const cmyk = new Uint8Array(await sharp(pattern(16, 16, 1), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer());
    await expect(decodeJpeg(cmyk)).rejects.toThrow('decodeJpeg: CMYK JPEGs are not decoded here');
  });

  it('names the argument, the value and what was expected', () => {
    expect(() => decodeJpeg([1, 2] as unknown as Uint8Array)).toThrow('decodeJpeg: input must be a Uint8Array or a file path (received [1, 2])');
    expect(() => decodeJpeg('')).toThrow('decodeJpeg: input must be a Uint8Array or a file path (received )');
    expect(() => decodeJpeg(new Uint8Array(4), { scale: 3.5 })).toThrow("decodeJpeg: options.scale must be an integer from 1 to 8 or 'fit' (received 3.5)");
    expect(() => decodeJpeg(new Uint8Array(4), { scale: 'fit' })).toThrow("decodeJpeg: options.scale 'fit' needs options.resize (received no resize)");
    expect(() => decodeJpeg(new Uint8Array(4), { scale: 16 })).toThrow('(received 16)');
    expect(() => decodeJpeg(new Uint8Array(4), { warp: { matrix: [1, 0, 0, 0, 1], width: 2, height: 2 } })).toThrow(
      'decodeJpeg: options.warp.matrix must be 6 finite numbers [a, b, c, d, e, f] (received [1, 0, 0, 0, 1])'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { warp: { matrix: [1, 0, 0, 0, 1, NaN], width: 2, height: 2 } })).toThrow('(received [1, 0, 0, 0, 1, NaN])');
    expect(() => decodeJpeg(new Uint8Array(4), { warp: { matrix: [1, 0, 0, 0, 1, 0], width: 0, height: 2 } })).toThrow(
      'decodeJpeg: options.warp.width must be an integer from 1 to 65535 (received 0)'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { resize: { width: 3, height: 2.5 } })).toThrow(
      'decodeJpeg: options.resize.height must be an integer from 1 to 65535 (received 2.5)'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { resize: { width: 3, height: 2 }, warp: { matrix: [1, 0, 0, 0, 1, 0], width: 2, height: 2 } })).toThrow(
      'decodeJpeg: options.resize and options.warp cannot be combined (received both)'
    );
    const warp = { matrix: [1, 0, 0, 0, 1, 0], width: 2, height: 2 };
    expect(() => decodeJpeg(new Uint8Array(4), { into: { out: new Float32Array(12) } })).toThrow(
      'decodeJpeg: options.into needs options.warp or options.resize (the size must be known before decoding)'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { warp, into: { out: new Float32Array(12), offset: 1 } })).toThrow(
      'decodeJpeg: options.into.offset must leave room for 12 values in out (length 12; received offset 1)'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { warp, into: { out: new Uint8Array(12) as unknown as Float32Array } })).toThrow(
      'decodeJpeg: options.into.out must be a Float32Array (received Uint8Array)'
    );
    expect(() => decodeJpeg(new Uint8Array(4), { warp, color: { matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1], offset: [0, 0, 0], greyGain: [0, 0, 0] } })).toThrow(
      'decodeJpeg: options.color needs options.into (received color without into)'
    );
    expect(() =>
      decodeJpeg(new Uint8Array(4), { warp, color: { matrix: [1, 0, 0], offset: [0, 0, 0], greyGain: [0, 0, 0] }, into: { out: new Float32Array(12) } })
    ).toThrow('decodeJpeg: options.color.matrix must be 9 finite numbers (row-major 3×3) (received [1, 0, 0])');
    expect(() => decodeJpeg(new Uint8Array(4), { warp: { matrix: [1, 0, 0, 0, 1, 0], width: 2, height: 2, fill: 256 } })).toThrow(
      'decodeJpeg: options.warp.fill must be an integer from 0 to 255 (received 256)'
    );
  });
});
