// A tiny synchronous PNG encoder (8-bit greyscale, RGB or RGBA, no interlace) over node:zlib. Used only by the
// deprecated synchronous imageGrid(), because sharp (which imageGridAsync uses) has no synchronous API; it is removed
// together with that alias.
import { deflateSync } from 'node:zlib';

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 (ISO 3309, as PNG chunks use) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 3: 2, 4: 6 };

/**
 * Encodes 8-bit pixels (`height × width × channels`, row-major; channels 1 = grey, 3 = RGB,
 * 4 = RGBA) as PNG bytes.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Uint8Array {
  if (!Number.isInteger(width) || width < 1) throw new Error(`width must be a positive integer (received ${String(width)})`);
  if (!Number.isInteger(height) || height < 1) throw new Error(`height must be a positive integer (received ${String(height)})`);
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new Error(`channels must be 1, 3 or 4 (received ${String(channels)})`);
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new Error(`pixels must hold height × width × channels = ${stride * height} bytes (received ${pixels.length})`);
  }
  const raw = new Uint8Array((stride + 1) * height); // filter byte 0 (None) before every row
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, colorType, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
