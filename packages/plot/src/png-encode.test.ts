import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, encodePng } from './png-encode.js';
import { PNG_SIGNATURE } from './svg.test-helpers.js';

interface Chunk { type: string; data: Uint8Array; crcOk: boolean }

/** Splits a PNG into its chunks and checks each chunk's CRC. */
function chunks(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  for (let offset = 8; offset < png.length; ) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    out.push({ type, data, crcOk: view.getUint32(offset + 8 + length) === crc32(png.subarray(offset + 4, offset + 8 + length)) });
    offset += 12 + length;
  }
  return out;
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('encodePng', () => {
  it.each([
    [1, 0],
    [3, 2],
    [4, 6],
  ] as const)('round-trips %i-channel pixels through IHDR and the inflated IDAT', (channels, colorType) => {
    const width = 5;
    const height = 3;
    const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37) % 256);
    const png = encodePng(pixels, width, height, channels);
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const parts = chunks(png);
    expect(parts.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(parts.every((c) => c.crcOk)).toBe(true);
    const header = new DataView(parts[0]!.data.buffer, parts[0]!.data.byteOffset, 13);
    expect([header.getUint32(0), header.getUint32(4), ...parts[0]!.data.subarray(8)]).toEqual([width, height, 8, colorType, 0, 0, 0]);
    const raw = new Uint8Array(inflateSync(parts[1]!.data));
    const stride = width * channels;
    expect(raw.length).toBe((stride + 1) * height);
    for (let y = 0; y < height; y++) {
      expect(raw[y * (stride + 1)]).toBe(0);
      expect([...raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))]).toEqual([...pixels.subarray(y * stride, (y + 1) * stride)]);
    }
  });

  it('decodes to the same pixels with sharp', async () => {
    const pixels = Uint8Array.from([0, 50, 100, 150, 200, 250]);
    const { default: sharp } = await import('sharp');
    const { data, info } = await sharp(Buffer.from(encodePng(pixels, 2, 1, 3))).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([2, 1, 3]);
    expect([...data]).toEqual([...pixels]);
  });

  it('rejects bad sizes, naming the argument', () => {
    expect(() => encodePng(new Uint8Array(4), 2, 2, 3)).toThrow('pixels must hold height × width × channels = 12 bytes (received 4)');
    expect(() => encodePng(new Uint8Array(4), 0, 2, 1)).toThrow('width must be a positive integer (received 0)');
    expect(() => encodePng(new Uint8Array(4), 2, 2, 2 as 1)).toThrow('channels must be 1, 3 or 4 (received 2)');
  });
});
