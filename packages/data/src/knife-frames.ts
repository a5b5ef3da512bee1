import { createRng } from '@convkit/core';
import type { Rng } from '@convkit/core';
import type { Canvas } from './canvas.js';
import { canvasAt } from './canvas.js';
import type { ImageDataset } from './dataset.js';
import { createImageDataset } from './dataset.js';

/** Options of {@link knifeFrames}. */
export interface KnifeFramesOptions {
  /** How many frames. */
  count: number;
  /** Height and width of each (square, RGB) frame. Defaults to `64`. */
  size?: number;
  /** The probability that a frame holds knives (1–3 of them). Defaults to `0.5`. */
  knifeProbability?: number;
  /** Seed of everything drawn. Defaults to `0`. */
  seed?: number;
}

/** {@link knifeFrames}' result: the frames, plus where the knives are. */
export interface KnifeFramesDataset extends ImageDataset {
  /** `length × size × size` bytes, 1 at every knife pixel and 0 elsewhere (one mask per frame, row-major). */
  readonly masks: Uint8Array;
}

/** Base colours of the tile kinds (grass, dirt, stone, water, wood); texture adds at most +40, so no background value exceeds 200. */
const TILES: readonly (readonly [number, number, number])[] = [
  [50, 120, 40],
  [120, 85, 50],
  [110, 110, 115],
  [40, 70, 150],
  [140, 100, 60],
];
const TILE = 8;

function paintTiles(canvas: Canvas, rng: Rng): void {
  const { height, width, data } = canvas;
  const rows = Math.ceil(height / TILE);
  const columns = Math.ceil(width / TILE);
  const kinds = Array.from({ length: rows * columns }, () => rng.int(0, TILES.length));
  // Neighbouring tiles often share a kind, as in a game map: copy the left or upper tile half of the time.
  for (let i = 1; i < kinds.length; i++) {
    if (rng.next() < 0.5) kinds[i] = kinds[i % columns === 0 || rng.next() < 0.5 ? Math.max(0, i - columns) : i - 1] as number;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const kind = kinds[Math.floor(y / TILE) * columns + Math.floor(x / TILE)] as number;
      const base = TILES[kind] as readonly number[];
      // A fixed per-kind pattern (bricks, ripples, speckles) plus a little noise; dark tile borders.
      const u = x % TILE;
      const v = y % TILE;
      const pattern = kind === 2 ? ((v === 3 || (u === (v < 4 ? 0 : 4))) ? -30 : 10) : kind === 3 ? ((u + v * 2) % 6 < 2 ? 25 : 0) : (u * 7 + v * 13 + kind) % 5 === 0 ? 20 : 0;
      const border = u === 0 || v === 0 ? -20 : 0;
      const at = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        data[at + c] = Math.max(0, Math.min(200, (base[c] as number) + pattern + border + rng.int(0, 11)));
      }
    }
  }
}

/**
 * Makes game-like frames in which some hold tiny "knives": thin bright diagonal strokes of
 * 3–6 pixels, with a per-pixel mask of where they are.
 *
 * Why: experiment E1.2 asks whether a CNN detects objects only a few pixels large, and
 * how pooling and resolution affect that; the mask allows segmentation-style targets and
 * checking which pixels a model attends to. The background is a map of 8×8 tiles (grass,
 * dirt, stone, water, wood) with textures and noise, all values ≤ 200; a knife is a
 * diagonal run of 3–6 pixels, each channel in `[225, 255]`, so it is exactly the set of
 * pixels whose three channels are all above 200. A frame holds knives (1–3, which may
 * cross) with probability `knifeProbability`; its label is 1 (`'knife'`), else 0
 * (`'empty'`). Everything depends only on `seed`.
 *
 * Options: `count` (required), `size` (defaults to `64`), `knifeProbability` (defaults to
 * `0.5`), `seed` (defaults to `0`).
 *
 * @returns a {@link KnifeFramesDataset} of shape `[size, size, 3]` with `masks`; no tensors.
 * @throws if `count` is not a positive integer, `size` is not an integer ≥ 8, or
 *   `knifeProbability` is not in `[0, 1]`.
 * @example
 * ```ts
 * const frames = knifeFrames({ count: 2000, size: 64, seed: 0 });
 * frames.masks.subarray(0, 64 * 64); // the knife pixels of frame 0
 * ```
 */
export function knifeFrames(options: KnifeFramesOptions): KnifeFramesDataset {
  const { count, size = 64, knifeProbability = 0.5, seed = 0 } = options;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer (received ${count})`);
  if (!Number.isInteger(size) || size < 8) throw new Error(`size must be an integer ≥ 8 (received ${size})`);
  if (typeof knifeProbability !== 'number' || !(knifeProbability >= 0 && knifeProbability <= 1)) {
    throw new Error(`knifeProbability must be a number in [0, 1] (received ${knifeProbability})`);
  }
  const rng = createRng(seed);
  const images = new Uint8Array(count * size * size * 3);
  const masks = new Uint8Array(count * size * size);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const canvas = canvasAt(images, n, size, size, 3);
    paintTiles(canvas, rng);
    if (rng.next() >= knifeProbability) continue;
    labels[n] = 1;
    const mask = masks.subarray(n * size * size, (n + 1) * size * size);
    const knives = rng.int(1, 4);
    for (let k = 0; k < knives; k++) {
      const length = rng.int(3, 7);
      const dy = rng.next() < 0.5 ? 1 : -1;
      const dx = rng.next() < 0.5 ? 1 : -1;
      // Start so the whole stroke lies inside the frame.
      const y0 = dy > 0 ? rng.int(0, size - length + 1) : rng.int(length - 1, size);
      const x0 = dx > 0 ? rng.int(0, size - length + 1) : rng.int(length - 1, size);
      const shine = rng.int(225, 256);
      for (let i = 0; i < length; i++) {
        const y = y0 + i * dy;
        const x = x0 + i * dx;
        const at = (y * size + x) * 3;
        canvas.data[at] = shine;
        canvas.data[at + 1] = shine;
        canvas.data[at + 2] = Math.min(255, shine + 5);
        mask[y * size + x] = 1;
      }
    }
  }
  const dataset = createImageDataset({ images, labels, shape: [size, size, 3], classNames: ['empty', 'knife'], source: `knifeFrames(seed ${seed})` });
  return { ...dataset, masks };
}
