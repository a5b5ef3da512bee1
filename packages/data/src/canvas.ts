import type { Rng } from '@convkit/core';

/** A view of one image inside a dataset buffer: `height × width × channels` bytes, row-major. */
export interface Canvas {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

/** Makes a canvas over `images` for image `index`. */
export function canvasAt(images: Uint8Array, index: number, height: number, width: number, channels: number): Canvas {
  const pixels = height * width * channels;
  return { data: images.subarray(index * pixels, (index + 1) * pixels), height, width, channels };
}

/** Blends `colour` into pixel (y, x) with opacity `alpha` (1 = replace); ignores pixels outside. */
export function blend(canvas: Canvas, y: number, x: number, colour: readonly number[], alpha = 1): void {
  if (y < 0 || x < 0 || y >= canvas.height || x >= canvas.width) return;
  const at = (y * canvas.width + x) * canvas.channels;
  for (let c = 0; c < canvas.channels; c++) {
    const value = alpha >= 1 ? (colour[c] as number) : (canvas.data[at + c] as number) * (1 - alpha) + (colour[c] as number) * alpha;
    canvas.data[at + c] = Math.round(value);
  }
}

/** A random colour of `channels` values in `[low, high]`. */
export function randomColour(rng: Rng, channels: number, low = 0, high = 255): number[] {
  return Array.from({ length: channels }, () => rng.int(low, high + 1));
}

/**
 * Paints a varied background: a linear gradient between two random colours at a random
 * angle, `rectangles` random translucent rectangles, then uniform noise of up to ±`noise`.
 * Every value stays in `[low, high]`.
 */
export function paintBackground(canvas: Canvas, rng: Rng, options: { rectangles: number; noise: number; low?: number; high?: number }): void {
  const { low = 0, high = 255 } = options;
  const { height, width, channels, data } = canvas;
  const from = randomColour(rng, channels, low, high);
  const to = randomColour(rng, channels, low, high);
  const angle = rng.uniform(0, 2 * Math.PI);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const span = Math.abs(dx) * width + Math.abs(dy) * height || 1;
  const origin = Math.min(0, dx * width) + Math.min(0, dy * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x * dx + y * dy - origin) / span;
      const at = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) data[at + c] = Math.round((from[c] as number) * (1 - t) + (to[c] as number) * t);
    }
  }
  for (let r = 0; r < options.rectangles; r++) {
    const h = rng.int(1, height + 1);
    const w = rng.int(1, width + 1);
    const top = rng.int(0, height - h + 1);
    const left = rng.int(0, width - w + 1);
    const colour = randomColour(rng, channels, low, high);
    const alpha = rng.uniform(0.2, 0.8);
    for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) blend(canvas, y, x, colour, alpha);
  }
  if (options.noise > 0) {
    for (let i = 0; i < data.length; i++) {
      const value = (data[i] as number) + rng.uniform(-options.noise, options.noise);
      data[i] = Math.round(Math.min(high, Math.max(low, value)));
    }
  }
}

/** `rng.uniform(low, high)`, or `low` when the range is empty (`high ≤ low`), still advancing `rng` once. */
export function uniformIn(rng: Rng, low: number, high: number): number {
  const t = rng.next();
  return high > low ? low + (high - low) * t : low;
}
