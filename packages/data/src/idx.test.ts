import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx, isGzip, parseIdx, readIdxFile } from './idx.js';
import type { IdxArray } from './idx.js';
import { loadIdxImagesAndLabels } from './idx-dataset.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convkit-idx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

describe('parseIdx', () => {
  it('reads a hand-written ubyte file: header, big-endian dims, row-major data', () => {
    const file = bytes(0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255);
    const array = parseIdx(file);
    expect(array.dims).toEqual([2, 3]);
    expect(array.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(array.data)).toEqual([1, 2, 3, 4, 5, 255]);
    file[12] = 99; // the result must not alias the input
    expect(array.data[0]).toBe(1);
  });

  it('decodes big-endian short, int, float and double values', () => {
    const shorts = parseIdx(bytes(0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe));
    expect(shorts.data).toBeInstanceOf(Int16Array);
    expect(Array.from(shorts.data)).toEqual([258, -2]);
    const ints = parseIdx(bytes(0, 0, 0x0c, 1, 0, 0, 0, 1, 0x80, 0, 0, 1));
    expect(Array.from(ints.data)).toEqual([-2147483647]);
    const floats = parseIdx(bytes(0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0)); // 1.5
    expect(floats.data).toBeInstanceOf(Float32Array);
    expect(Array.from(floats.data)).toEqual([1.5]);
    const doubles = parseIdx(bytes(0, 0, 0x0e, 1, 0, 0, 0, 1, 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18)); // -pi
    expect(Array.from(doubles.data)).toEqual([-Math.PI]);
    const signed = parseIdx(bytes(0, 0, 0x09, 1, 0, 0, 0, 2, 0x7f, 0x80));
    expect(signed.data).toBeInstanceOf(Int8Array);
    expect(Array.from(signed.data)).toEqual([127, -128]);
  });

  it('rejects a bad magic number, naming the bytes found', () => {
    expect(() => parseIdx(bytes(0x50, 0x4b, 3, 4, 0))).toThrow(
      'not an IDX file: expected magic bytes 0x00 0x00 <type> <dims>, found 0x50 0x4b 0x03 0x04',
    );
    expect(() => parseIdx(bytes())).toThrow('found no bytes');
  });

  it('rejects an unknown type byte', () => {
    expect(() => parseIdx(bytes(0, 0, 0x0a, 1, 0, 0, 0, 0))).toThrow('unknown type byte 0x0a');
  });

  it('rejects truncated data, stating expected and found byte counts', () => {
    const file = bytes(0, 0, 0x0b, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0, 2, 0, 3);
    expect(() => parseIdx(file)).toThrow('truncated IDX file: expected 8 bytes of data for dims [2, 2] (short), found 6');
    expect(() => parseIdx(bytes(0, 0, 0x08, 3, 0, 0, 0, 1))).toThrow(
      'the header declares 3 dimensions (16 header bytes) but the file has 8 bytes',
    );
  });

  it('rejects trailing garbage', () => {
    expect(() => parseIdx(bytes(0, 0, 0x08, 1, 0, 0, 0, 2, 7, 8, 9))).toThrow(
      'IDX file has trailing garbage: expected 2 bytes of data for dims [2] (unsigned byte), found 3 (1 extra bytes)',
    );
  });
});

describe('encodeIdx', () => {
  const arrays: IdxArray[] = [
    { dims: [2, 3], data: Uint8Array.from([0, 1, 2, 253, 254, 255]) },
    { dims: [4], data: Int8Array.from([-128, -1, 0, 127]) },
    { dims: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
    { dims: [3], data: Int32Array.from([-2147483648, 7, 2147483647]) },
    { dims: [1, 3], data: Float32Array.from([-0.5, 3.25, 1e-7]) },
    { dims: [2, 1, 1], data: Float64Array.from([Math.PI, -1e300]) },
    { dims: [0, 28, 28], data: new Uint8Array(0) },
  ];

  it.each(arrays)('round-trips through parseIdx (%#)', (array) => {
    const parsed = parseIdx(encodeIdx(array));
    expect(parsed.dims).toEqual(array.dims);
    expect(parsed.data.constructor).toBe(array.data.constructor);
    expect(Array.from(parsed.data)).toEqual(Array.from(array.data));
  });

  it('writes the header bytes of the format', () => {
    const encoded = encodeIdx({ dims: [1, 2], data: Int16Array.from([1, -1]) });
    expect(Array.from(encoded)).toEqual([0, 0, 0x0b, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0xff, 0xff]);
  });

  it('rejects data whose length is not the product of dims', () => {
    expect(() => encodeIdx({ dims: [2, 2], data: new Uint8Array(3) })).toThrow(
      'array.data must hold the product of dims [2, 2] = 4 values (received 3)',
    );
    expect(() => encodeIdx({ dims: [-1], data: new Uint8Array(0) })).toThrow('array.dims must be at most 255 non-negative integers');
  });
});

describe('readIdxFile', () => {
  const array: IdxArray = { dims: [2, 2], data: Int32Array.from([1, -2, 3, -4]) };

  it('reads plain and gzipped files alike, detecting gzip by content, not by name', async () => {
    const plainNamedGz = join(dir, 'plain.gz');
    const gzNamedPlain = join(dir, 'compressed.idx');
    await writeFile(plainNamedGz, encodeIdx(array));
    await writeFile(gzNamedPlain, gzipSync(encodeIdx(array)));
    expect(isGzip(gzipSync(encodeIdx(array)))).toBe(true);
    expect(isGzip(encodeIdx(array))).toBe(false);
    for (const path of [plainNamedGz, gzNamedPlain]) {
      const read = await readIdxFile(path);
      expect(read.dims).toEqual([2, 2]);
      expect(Array.from(read.data)).toEqual([1, -2, 3, -4]);
    }
  });

  it('names the file in every error', async () => {
    const truncated = join(dir, 'truncated.gz');
    await writeFile(truncated, gzipSync(encodeIdx(array).subarray(0, 20)));
    await expect(readIdxFile(truncated)).rejects.toThrow(`${truncated}: truncated IDX file: expected 16 bytes`);
    const corrupt = join(dir, 'corrupt.gz');
    await writeFile(corrupt, bytes(0x1f, 0x8b, 8, 0, 1, 2, 3));
    await expect(readIdxFile(corrupt)).rejects.toThrow(`${corrupt}: gzip data could not be decompressed`);
    const text = join(dir, 'text.txt');
    await writeFile(text, 'hello');
    await expect(readIdxFile(text)).rejects.toThrow(`${text}: not an IDX file`);
    await expect(readIdxFile(join(dir, 'missing'))).rejects.toThrow('ENOENT');
  });
});

describe('loadIdxImagesAndLabels', () => {
  async function write(name: string, value: IdxArray, gzip = true): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, gzip ? gzipSync(encodeIdx(value)) : encodeIdx(value));
    return path;
  }

  it('builds a dataset from [N, H, W] images (one channel) and 1-D labels', async () => {
    const images = await write('a-images.gz', { dims: [3, 2, 2], data: Uint8Array.from({ length: 12 }, (_, i) => i * 10) });
    const labels = await write('a-labels', { dims: [3], data: Uint8Array.from([2, 0, 1]) }, false);
    const ds = await loadIdxImagesAndLabels(images, labels, { classNames: ['a', 'b', 'c'] });
    expect(ds.length).toBe(3);
    expect(ds.shape).toEqual([2, 2, 1]);
    expect(ds.numClasses).toBe(3);
    expect(ds.classNames).toEqual(['a', 'b', 'c']);
    expect(Array.from(ds.labels)).toEqual([2, 0, 1]);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.images.subarray(4, 8))).toEqual([40, 50, 60, 70]);
    expect(ds.source).toBe(dir);
  });

  it('accepts [N, H, W, C] images and infers numClasses from the labels', async () => {
    const images = await write('b-images.gz', { dims: [2, 1, 1, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    const labels = await write('b-labels.gz', { dims: [2], data: Int32Array.from([1, 0]) });
    const ds = await loadIdxImagesAndLabels(images, labels);
    expect(ds.shape).toEqual([1, 1, 3]);
    expect(ds.numClasses).toBe(2);
    expect(ds.classNames).toEqual(['0', '1']);
  });

  it('refuses a label out of range with the default class names (label 200 among 0…9 is not a 201-class dataset)', async () => {
    const labelValues = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
    labelValues[7] = 200;
    labelValues[17] = 7;
    const images = await write('o-images.gz', { dims: [20, 1, 1], data: new Uint8Array(20) });
    const labels = await write('o-labels.gz', { dims: [20], data: labelValues });
    await expect(loadIdxImagesAndLabels(images, labels)).rejects.toThrow(
      `${labels}: labels[7] is 200, so the default class names would make 201 classes, but class 10, 11, 12, 13, 14, … ` +
        '(190 classes) have no images: a label is out of range, or pass classNames or numClasses',
    );
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    await expect(loadIdxImagesAndLabels(images, labels, { classNames: names })).rejects.toThrow(
      `${labels}: labels[7] must be a class index below numClasses = 10 (received 200)`,
    );
  });

  it('rejects disagreeing counts, naming both files and counts', async () => {
    const images = await write('c-images.gz', { dims: [3, 2, 2], data: new Uint8Array(12) });
    const labels = await write('c-labels.gz', { dims: [2], data: new Uint8Array(2) });
    await expect(loadIdxImagesAndLabels(images, labels)).rejects.toThrow(
      `image and label counts disagree: ${images} has 3 images but ${labels} has 2 labels`,
    );
  });

  it('rejects labels that are not 1-D integers and images that are not bytes', async () => {
    const images = await write('d-images.gz', { dims: [2, 2, 2], data: new Uint8Array(8) });
    const labels2d = await write('d-labels.gz', { dims: [2, 1], data: new Uint8Array(2) });
    await expect(loadIdxImagesAndLabels(images, labels2d)).rejects.toThrow(
      `${labels2d}: labels must be 1-D [N] (received dims [2, 1])`,
    );
    const floatLabels = await write('e-labels.gz', { dims: [2], data: new Float32Array(2) });
    await expect(loadIdxImagesAndLabels(images, floatLabels)).rejects.toThrow('labels must be integers (received Float32Array)');
    const floatImages = await write('f-images.gz', { dims: [2, 2, 2], data: new Float32Array(8) });
    const labels = await write('f-labels.gz', { dims: [2], data: new Uint8Array(2) });
    await expect(loadIdxImagesAndLabels(floatImages, labels)).rejects.toThrow(
      `${floatImages}: images must be unsigned bytes (type 0x08) with dims [N, H, W] or [N, H, W, C] (received Float32Array`,
    );
    const negative = await write('g-labels.gz', { dims: [2], data: Int8Array.from([0, -3]) });
    await expect(loadIdxImagesAndLabels(images, negative)).rejects.toThrow(
      `${negative}: labels[1] must be a non-negative class index (received -3)`,
    );
  });
});
