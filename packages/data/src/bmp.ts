/** A decoded BMP: interleaved 8-bit RGB pixels, top row first. */
export interface DecodedBmp {
  width: number;
  height: number;
  /** `height × width × 3` bytes, RGB. */
  data: Uint8Array;
}

/**
 * Decodes the common uncompressed BMP variants (BITMAPINFOHEADER or later; 8-bit palette,
 * 24-bit BGR or 32-bit BGRX; bottom-up or top-down), which `sharp` cannot read.
 *
 * @throws with what was found when the file is not such a BMP.
 */
export function decodeBmp(bytes: Uint8Array): DecodedBmp {
  if (bytes.length < 54 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) {
    throw new Error(`not a BMP file (expected the 'BM' signature, received ${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bits = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (headerSize < 40 || width <= 0 || rawHeight === 0 || ![8, 24, 32].includes(bits) || (compression !== 0 && compression !== 3)) {
    throw new Error(`unsupported BMP (header ${headerSize} bytes, ${width}×${rawHeight}, ${bits} bits, compression ${compression})`);
  }
  const height = Math.abs(rawHeight);
  const stride = Math.ceil((width * bits) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) throw new Error(`truncated BMP: ${width}×${height} needs ${dataOffset + stride * height} bytes (received ${bytes.length})`);
  const paletteOffset = 14 + headerSize;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (rawHeight > 0 ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      let at: number;
      if (bits === 8) {
        at = paletteOffset + (bytes[row + x] as number) * 4;
      } else {
        at = row + x * (bits / 8);
      }
      const out = (y * width + x) * 3;
      data[out] = bytes[at + 2] as number;
      data[out + 1] = bytes[at + 1] as number;
      data[out + 2] = bytes[at] as number;
    }
  }
  return { width, height, data };
}
