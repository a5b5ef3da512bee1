import { describe, expect, it } from 'vitest';
import { decodeBmp } from './bmp.js';

/** A BMP with a BITMAPINFOHEADER; `rows` are the stored rows (already padded), in file order. */
function bmpFile(width: number, height: number, bits: number, rows: number[][], palette: number[][] = []): Uint8Array {
  const pixelOffset = 54 + palette.length * 4;
  const body = rows.flat();
  const bytes = new Uint8Array(pixelOffset + body.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bits, true);
  palette.forEach(([r, g, b], i) => bytes.set([b!, g!, r!, 0], 54 + i * 4));
  bytes.set(body, pixelOffset);
  return bytes;
}

describe('decodeBmp', () => {
  it('reads bottom-up 24-bit BGR rows with padding as top-first RGB', () => {
    // 2×2: stored bottom row first; each row 6 bytes + 2 padding.
    const file = bmpFile(2, 2, 24, [[3, 2, 1, 6, 5, 4, 0, 0], [9, 8, 7, 12, 11, 10, 0, 0]]);
    expect(decodeBmp(file)).toEqual({ width: 2, height: 2, data: Uint8Array.from([7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]) });
  });

  it('reads top-down 8-bit palette images and 32-bit BGRX', () => {
    const palette = [[10, 20, 30], [40, 50, 60]];
    const file = bmpFile(3, -1, 8, [[1, 0, 1, 0]], palette);
    expect(Array.from(decodeBmp(file).data)).toEqual([40, 50, 60, 10, 20, 30, 40, 50, 60]);
    const wide = bmpFile(1, 1, 32, [[3, 2, 1, 255]]);
    expect(Array.from(decodeBmp(wide).data)).toEqual([1, 2, 3]);
  });

  it('rejects other files, saying what it found', () => {
    expect(() => decodeBmp(new Uint8Array(60))).toThrow("not a BMP file (expected the 'BM' signature, received 60 bytes)");
    expect(() => decodeBmp(bmpFile(1, 1, 4, [[0, 0, 0, 0]]))).toThrow('unsupported BMP (header 40 bytes, 1×1, 4 bits, compression 0)');
  });
});
