import { chart } from './chart.js';
import type { Chart, VegaLiteSpec } from './chart.js';
import { encodePng } from './png-encode.js';
import { assertPositiveNumber, describeValue } from './validate.js';

/** One image of an {@link imageGrid}: `height × width × channels` pixels, row-major. */
export interface GridImage {
  readonly data: Uint8Array | Float32Array | readonly number[];
  readonly height: number;
  readonly width: number;
  /** 1 = grey, 3 = RGB, 4 = RGBA. */
  readonly channels: 1 | 3 | 4;
}

/** A batch of images in one buffer: `shape` is `[N, H, W, C]` (as `@convkit/data` datasets hold them). */
export interface ImageBatch {
  readonly data: Uint8Array | Float32Array | readonly number[];
  readonly shape: readonly [number, number, number, 1 | 3 | 4];
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Images per row. Defaults to min(N, 8). */
  readonly columns?: number;
  /** Screen pixels per image pixel (nearest-neighbour, so small images stay crisp). Defaults to 2. */
  readonly scale?: number;
  /** One caption under each image (fewer is allowed; missing ones are blank). Defaults to none. */
  readonly captions?: readonly string[];
  /**
   * The pixel values shown as black and white `[low, high]`; values outside are clipped.
   * Defaults to [0, 255] for Uint8Array data and [0, 1] otherwise.
   */
  readonly range?: readonly [number, number];
  /** The chart title. Defaults to none. */
  readonly title?: string;
  /** Pixels between images. Defaults to 4. */
  readonly gap?: number;
}

/** One drawn image (the rows of the spec's `data.values`). */
export interface GridCell {
  readonly index: number;
  /** Top-left corner in pixels. */
  readonly x: number;
  readonly y: number;
  /** The image as a `data:image/png;base64,…` URI. */
  readonly url: string;
  readonly caption: string;
}

function toImages(images: readonly GridImage[] | ImageBatch): GridImage[] {
  if (Array.isArray(images)) {
    if (images.length === 0) throw new Error('images must be a non-empty array or an { data, shape } batch (received an array of length 0)');
    return images as GridImage[];
  }
  if (typeof images !== 'object' || images === null || !('shape' in images)) {
    throw new Error(`images must be an array of { data, height, width, channels } or an { data, shape: [N, H, W, C] } batch (received ${describeValue(images)})`);
  }
  const { data, shape } = images;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`images.shape must be [N, H, W, C] of positive integers (received ${JSON.stringify(shape)})`);
  }
  const [n, height, width, channels] = shape;
  const size = height * width * channels;
  if (data.length !== n * size) {
    throw new Error(`images.data must hold N × H × W × C = ${n * size} values (received ${data.length})`);
  }
  return Array.from({ length: n }, (_, i) => ({
    data: Array.isArray(data) ? data.slice(i * size, (i + 1) * size) : (data as Uint8Array | Float32Array).subarray(i * size, (i + 1) * size),
    height,
    width,
    channels,
  }));
}

function toBytes(image: GridImage, index: number, range: readonly [number, number] | undefined): Uint8Array {
  const { data, height, width, channels } = image;
  if (!Number.isInteger(height) || height < 1 || !Number.isInteger(width) || width < 1) {
    throw new Error(`images[${index}] height and width must be positive integers (received ${describeValue(height)} × ${describeValue(width)})`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new Error(`images[${index}].channels must be 1, 3 or 4 (received ${describeValue(channels)})`);
  }
  if (data === undefined || data === null || typeof data.length !== 'number' || data.length !== height * width * channels) {
    throw new Error(`images[${index}].data must hold height × width × channels = ${height * width * channels} values (received ${data === undefined || data === null ? describeValue(data) : data.length})`);
  }
  const [low, high] = range ?? (data instanceof Uint8Array ? [0, 255] : [0, 1]);
  if (range === undefined && data instanceof Uint8Array) return data;
  const bytes = new Uint8Array(data.length);
  const span = high - low;
  for (let i = 0; i < data.length; i++) {
    const v = Number.isFinite(data[i]!) ? (data[i]! - low) / span : 0;
    bytes[i] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return bytes;
}

/** Validated grid input: the images as 8-bit pixels and the resolved layout options. */
interface PreparedGrid {
  readonly images: readonly { readonly image: GridImage; readonly bytes: Uint8Array }[];
  readonly columns: number;
  readonly scale: number;
  readonly gap: number;
  readonly captions: readonly string[] | undefined;
  readonly title: string | undefined;
}

function prepareGrid(images: readonly GridImage[] | ImageBatch, options: ImageGridOptions): PreparedGrid {
  const list = toImages(images);
  const { captions, range, title, gap = 4, scale = 2 } = options;
  const columns = options.columns ?? Math.min(list.length, 8);
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`columns must be a positive integer (received ${describeValue(columns)})`);
  assertPositiveNumber('scale', scale);
  if (typeof gap !== 'number' || !Number.isFinite(gap) || gap < 0) throw new Error(`gap must be a non-negative number (received ${describeValue(gap)})`);
  if (captions !== undefined) {
    if (!Array.isArray(captions) || captions.length > list.length) {
      throw new Error(`captions must be an array of at most ${list.length} strings, one per image (received ${describeValue(captions)})`);
    }
    captions.forEach((c, i) => {
      if (typeof c !== 'string') throw new Error(`captions[${i}] must be a string (received ${describeValue(c)})`);
    });
  }
  if (range !== undefined && (!Array.isArray(range) || range.length !== 2 || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || !(range[1] > range[0]))) {
    throw new Error(`range must be [low, high] with finite low < high (received ${describeValue(range)})`);
  }
  if (title !== undefined && typeof title !== 'string') throw new Error(`title must be a string (received ${describeValue(title)})`);
  return { images: list.map((image, index) => ({ image, bytes: toBytes(image, index, range) })), columns, scale, gap, captions, title };
}

/** The grid chart, given each image as PNG bytes. */
function gridChart(grid: PreparedGrid, pngs: readonly Uint8Array[]): Chart {
  const { images, columns, scale, gap, captions, title } = grid;
  const cellWidth = Math.max(...images.map(({ image }) => image.width)) * scale;
  const cellHeight = Math.max(...images.map(({ image }) => image.height)) * scale;
  const captionHeight = captions !== undefined && captions.length > 0 ? 14 : 0;
  const rows = Math.ceil(images.length / columns);
  const cells: GridCell[] = pngs.map((png, index) => ({
    index,
    x: (index % columns) * (cellWidth + gap),
    y: Math.floor(index / columns) * (cellHeight + captionHeight + gap),
    url: `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
    caption: captions?.[index] ?? '',
  }));
  const pixel = (field: string): { field: string; type: 'quantitative'; scale: null; axis: null } => ({ field, type: 'quantitative', scale: null, axis: null });
  const spec: VegaLiteSpec = {
    ...(title !== undefined && title !== '' ? { title } : {}),
    width: columns * cellWidth + (columns - 1) * gap,
    height: rows * (cellHeight + captionHeight) + (rows - 1) * gap,
    view: { stroke: null },
    data: { name: 'image_grid', values: cells },
    transform: [{ calculate: `datum.y + ${cellHeight + 11}`, as: 'captionY' }, { calculate: `datum.x + ${cellWidth / 2}`, as: 'captionX' }],
    layer: [
      {
        mark: { type: 'image', align: 'left', baseline: 'top', width: cellWidth, height: cellHeight, aspect: true, smooth: false, aria: false },
        encoding: { x: pixel('x'), y: pixel('y'), url: { field: 'url', type: 'nominal' } },
      },
      ...(captionHeight > 0
        ? [{
            mark: { type: 'text' as const, fontSize: 10, align: 'center' as const, aria: false },
            encoding: { x: pixel('captionX'), y: pixel('captionY'), text: { field: 'caption', type: 'nominal' as const } },
          }]
        : []),
    ],
  };
  return chart(spec);
}

/**
 * Draws images in a grid, each embedded in the SVG as a PNG (encoded by sharp), with optional captions.
 *
 * Why: looking at the data (samples, augmentations, misclassified images, reconstructions) is the
 * first debugging step; this returns a normal {@link Chart}, so `display()`, `.toSVG()`, `.toPNG()`
 * and `.save()` work as for any chart.
 *
 * @param images - `{ data, height, width, channels }[]` (sizes may differ; cells take the largest),
 *   or one `{ data, shape: [N, H, W, C] }` batch.
 * @param options - `columns` (defaults to min(N, 8)), `scale` (defaults to 2), `captions`,
 *   `range` (defaults to [0, 255] for Uint8Array, else [0, 1]), `title`, `gap` (defaults to 4).
 * @returns a {@link Chart}; its spec's `data.values` holds one {@link GridCell} per image.
 *
 * @example
 * ```ts
 * import { imageGridAsync } from '@convkit/plot';
 * const pixels = new Uint8Array(2 * 8 * 8).map((_, i) => (i * 7) % 256);
 * const grid = await imageGridAsync({ data: pixels, shape: [2, 8, 8, 1] }, { captions: ['a', 'b'], scale: 4 });
 * await grid.save('out/samples.png');
 * ```
 */
export async function imageGridAsync(images: readonly GridImage[] | ImageBatch, options: ImageGridOptions = {}): Promise<Chart> {
  const grid = prepareGrid(images, options);
  const { default: sharp } = await import('sharp');
  const pngs = await Promise.all(
    grid.images.map(async ({ image, bytes }) => {
      const raw = { width: image.width, height: image.height, channels: image.channels };
      const encoder = sharp(bytes, { raw });
      // sharp widens one channel to RGB unless told the image is greyscale ('b-w')
      return new Uint8Array(await (image.channels === 1 ? encoder.toColourspace('b-w') : encoder).png().toBuffer());
    }),
  );
  return gridChart(grid, pngs);
}

/**
 * The synchronous form of {@link imageGridAsync}, same arguments and result.
 *
 * @deprecated Use `await imageGridAsync(images, options)`: it encodes the images with sharp. This form
 * keeps a small built-in PNG encoder only because sharp has no synchronous API; it goes with the
 * next major version.
 *
 * @example
 * ```ts
 * import { imageGrid } from '@convkit/plot';
 * await imageGrid({ data: new Uint8Array(64), shape: [1, 8, 8, 1] }).save('out/sample.png');
 * ```
 */
export function imageGrid(images: readonly GridImage[] | ImageBatch, options: ImageGridOptions = {}): Chart {
  const grid = prepareGrid(images, options);
  return gridChart(grid, grid.images.map(({ image, bytes }) => encodePng(bytes, image.width, image.height, image.channels)));
}
