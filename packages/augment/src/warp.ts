import type { AffineMap, RawImage } from './transform.js';

/** True when `value` looks like a {@link RawImage}. */
export function isRawImage(value: unknown): value is RawImage {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as RawImage).data instanceof Uint8Array &&
    Number.isInteger((value as RawImage).width) &&
    Number.isInteger((value as RawImage).height) &&
    Number.isInteger((value as RawImage).channels)
  );
}

/**
 * Throws unless `image` is a raw image whose buffer holds `height × width × channels` bytes.
 * `name` names the argument (or file) in the message.
 */
export function checkRawImage(image: unknown, name = 'image'): RawImage {
  if (!isRawImage(image)) {
    throw new Error(`${name} must be a raw image { data: Uint8Array, width, height, channels } (received ${String(image)})`);
  }
  const { data, width, height, channels } = image;
  if (width <= 0 || height <= 0 || channels <= 0 || data.length !== width * height * channels) {
    throw new Error(
      `${name} must hold width × height × channels bytes (received ${data.length} bytes for ${width}×${height}×${channels})`
    );
  }
  return image;
}

/** The identity map of an image of the given size. */
export function identityAffine(width: number, height: number): AffineMap {
  return { matrix: [1, 0, 0, 0, 1, 0], width, height };
}

/**
 * Composes two inverse maps: `first` maps the intermediate image to the input, `second` maps the
 * output to the intermediate image; the result maps the output straight to the input.
 */
export function composeAffine(first: AffineMap, second: AffineMap): AffineMap {
  const [a1, b1, c1, d1, e1, f1] = first.matrix;
  const [a2, b2, c2, d2, e2, f2] = second.matrix;
  return {
    matrix: [
      a1 * a2 + b1 * d2,
      a1 * b2 + b1 * e2,
      a1 * c2 + b1 * f2 + c1,
      d1 * a2 + e1 * d2,
      d1 * b2 + e1 * e2,
      d1 * c2 + e1 * f2 + f1,
    ],
    width: second.width,
    height: second.height,
  };
}

/**
 * Resamples `image` through the inverse map `map` with bilinear interpolation: the output pixel
 * centre `(u + ½, v + ½)` reads the input at `(x, y) = M·(u + ½, v + ½, 1)`. Points inside the
 * input read its pixels (edge pixels repeat up to the border); points outside read `fill`.
 * Integer translations, flips and 90° turns reproduce pixels exactly. Returns a new image.
 */
export function warpAffine(image: RawImage, map: AffineMap, fill = 0): RawImage {
  const { data, width, height, channels } = image;
  const [a, b, c, d, e, f] = map.matrix;
  const outWidth = map.width;
  const outHeight = map.height;
  const out = new Uint8Array(outWidth * outHeight * channels);
  const maxX = width - 1;
  const maxY = height - 1;
  const rowStride = width * channels;
  let o = 0;
  for (let v = 0; v < outHeight; v++) {
    const vc = v + 0.5;
    // Input position of the first output pixel centre of this row, then per-pixel increments.
    let x = a * 0.5 + b * vc + c;
    let y = d * 0.5 + e * vc + f;
    for (let u = 0; u < outWidth; u++, x += a, y += d) {
      if (!(x >= 0 && x <= width && y >= 0 && y <= height)) {
        for (let k = 0; k < channels; k++) out[o++] = fill;
        continue;
      }
      let sx = x - 0.5;
      let sy = y - 0.5;
      if (sx < 0) sx = 0;
      else if (sx > maxX) sx = maxX;
      if (sy < 0) sy = 0;
      else if (sy > maxY) sy = maxY;
      const x0 = sx | 0;
      const y0 = sy | 0;
      const wx = sx - x0;
      const wy = sy - y0;
      const x1 = x0 < maxX ? x0 + 1 : x0;
      const y1 = y0 < maxY ? y0 + 1 : y0;
      const i00 = y0 * rowStride + x0 * channels;
      const i01 = y0 * rowStride + x1 * channels;
      const i10 = y1 * rowStride + x0 * channels;
      const i11 = y1 * rowStride + x1 * channels;
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      for (let k = 0; k < channels; k++) {
        const value = data[i00 + k]! * w00 + data[i01 + k]! * w01 + data[i10 + k]! * w10 + data[i11 + k]! * w11;
        out[o++] = (value + 0.5) | 0;
      }
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels };
}

/**
 * The smallest pixel rectangle of a `width × height` image that holds every pixel {@link warpAffine}
 * reads through `map` (the bilinear neighbours of the mapped output pixel centres, with one pixel of
 * margin against rounding), clipped to the image; at least 1×1.
 */
export function readRegion(map: AffineMap, width: number, height: number): { left: number; top: number; width: number; height: number } {
  const [a, b, c, d, e, f] = map.matrix;
  const us = [0.5, map.width - 0.5];
  const vs = [0.5, map.height - 0.5];
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const u of us) {
    for (const v of vs) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  }
  const clip = (value: number, size: number): number => Math.min(size - 1, Math.max(0, value));
  const left = clip(Math.floor(minX - 0.5) - 1, width);
  const top = clip(Math.floor(minY - 0.5) - 1, height);
  const right = clip(Math.floor(maxX - 0.5) + 2, width);
  const bottom = clip(Math.floor(maxY - 0.5) + 2, height);
  return { left, top, width: Math.max(1, right - left + 1), height: Math.max(1, bottom - top + 1) };
}

/**
 * Places `part`, the rectangle `region` of an image of `width × height`, into a frame of that size:
 * {@link warpAffine} of the frame through a map whose {@link readRegion} is `region` gives the same
 * bytes as through the whole image, since no pixel outside the rectangle is read. The frame is
 * `scratch` when it is large enough (its other pixels are left as they were, so reuse it only while
 * nothing else reads it), else a new zeroed buffer.
 */
export function embedRegion(part: RawImage, region: { left: number; top: number }, width: number, height: number, scratch?: Uint8Array): RawImage {
  const { channels } = part;
  const size = width * height * channels;
  const data = scratch !== undefined && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
  const row = part.width * channels;
  for (let y = 0; y < part.height; y++) {
    data.set(part.data.subarray(y * row, (y + 1) * row), ((region.top + y) * width + region.left) * channels);
  }
  return { data, width, height, channels };
}
