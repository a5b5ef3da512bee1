import * as tf from '@tensorflow/tfjs';
import type { Dataset, ImageDataset } from './dataset.js';

/** How labels are encoded in a batch: one-hot float32 `[B, numClasses]` or class indices int32 `[B]`. */
export type LabelEncoding = 'oneHot' | 'index';

/**
 * The registered symbol (`Symbol.for`, so a plugin package can read it without importing this one) under which a
 * `DataLoader` marks each batch whose `transform` already ran when the batch was built: ahead of its step, up to
 * `prefetch + 1` steps early (a loader with a `transform` and `deferTransform` unset). The non-enumerable value is
 * `{ prefetch }`. Plugins that set the transform's strength per step refuse such a batch (`augmentStrength` of
 * `@convkit/augment`), since the strength would land late.
 */
export const TRANSFORMED_AHEAD: unique symbol = Symbol.for('@convkit/data:transformedAhead');

/** Marks `batch` as transformed ahead by a loader with this `prefetch` (see {@link TRANSFORMED_AHEAD}); returns it. */
export function markTransformedAhead(batch: ImageBatch, prefetch: number): ImageBatch {
  Object.defineProperty(batch, TRANSFORMED_AHEAD, { value: Object.freeze({ prefetch }), enumerable: false });
  return batch;
}

/**
 * A batch of images and labels. The consumer owns both tensors and disposes them.
 *
 * A `DataLoader` with a `transform` and `deferTransform` unset marks its batches as transformed ahead (a hidden,
 * non-enumerable symbol; copying `{ x, y }` drops it): `augmentStrength` of `@convkit/augment` then refuses them with an
 * error saying to create the loader with `deferTransform: true`.
 */
export interface ImageBatch {
  /** Images, float32 `[B, H, W, C]`. */
  x: tf.Tensor4D;
  /** Labels: float32 `[B, numClasses]` one-hot, or int32 `[B]` class indices. */
  y: tf.Tensor;
  /**
   * Present on a batch of a `DataLoader` with `deferTransform: true` until called: runs the loader's transform on `x`
   * now (replacing `x`, disposing the old one), with the batch's own generator. Call it once, in `beforeBatch`.
   */
  applyTransform?: () => void;
}

/** How raw bytes become the float values of `x`, and how labels are encoded. */
export interface BatchEncodingOptions {
  /** Label encoding. Defaults to `'oneHot'`. */
  labels?: LabelEncoding;
  /** Factor applied to each byte first. Defaults to `1/255`, mapping bytes to [0, 1]. */
  scale?: number;
  /** Per-channel mean subtracted after scaling (one entry per channel). Defaults to no centring. */
  mean?: readonly number[];
  /** Per-channel standard deviation divided by after centring (one entry per channel). Defaults to no division. */
  std?: readonly number[];
}

/** Turns rows of a dataset into an {@link ImageBatch}. */
export type BatchEncoder = (indices: ArrayLike<number>) => ImageBatch;

function checkChannels(name: string, values: readonly number[] | undefined, channels: number, positive: boolean): void {
  if (values === undefined) return;
  if (!Array.isArray(values) || values.length !== channels) {
    throw new Error(
      `${name} must have one entry per channel (${channels}) (received ${JSON.stringify(values)})`,
    );
  }
  for (const [i, value] of values.entries()) {
    if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0)) {
      throw new Error(`${name}[${i}] must be a finite${positive ? ' positive' : ''} number (received ${value})`);
    }
  }
}

/**
 * Makes a function that turns a list of dataset rows into an {@link ImageBatch}.
 *
 * Why: samplers and loaders choose *which* rows form a batch; this does the rest the same
 * way everywhere. The options are validated once, and each channel gets a 256-entry table
 * of `(byte × scale − mean[c]) / std[c]`, so a batch costs one table lookup per byte into a
 * `Float32Array` and a single tensor creation (no per-pixel tensor ops).
 *
 * Options: `labels` (defaults to `'oneHot'`), `scale` (defaults to `1/255`), `mean` and
 * `std` (per channel; default to no normalisation).
 *
 * @returns an encoder; each call returns new tensors `{ x, y }` that the caller disposes.
 * @throws if `labels` is unknown, `scale` is not finite, or `mean`/`std` do not have one
 *   finite entry per channel (`std` entries positive).
 * @example
 * ```ts
 * const encode = createBatchEncoder(train, { labels: 'index' });
 * const { x, y } = encode([0, 5, 7]); // x: [3, 28, 28, 1] float32, y: [3] int32
 * tf.dispose([x, y]);
 * ```
 */
export function createBatchEncoder(dataset: ImageDataset, options: BatchEncodingOptions = {}): BatchEncoder {
  const encodeRows = createRowEncoder(dataset, options);
  return (indices) => encodeRows(dataset.images, indices, indices);
}

/**
 * Encodes rows of a byte buffer: row `rows[i]` of `images` with the label of dataset row `labelRows[i]`.
 * The loader's one encoding path for both kinds of {@link Dataset}.
 */
export type RowEncoder = (images: Uint8Array, rows: ArrayLike<number>, labelRows: ArrayLike<number>) => ImageBatch;

/**
 * Writes rows of a byte buffer as normalised floats: row `rows[i]` of `images` becomes image `i` of the result, each byte
 * `v` of channel `c` becoming `table[c × 256 + v]`. No tensors: the loader's workers run it too.
 */
export type PixelEncoder = (images: Uint8Array, rows: ArrayLike<number>) => Float32Array;

/** The 256-entry-per-channel table of `(byte × scale − mean[c]) / std[c]` a {@link PixelEncoder} looks values up in. */
export function pixelTable(channels: number, options: BatchEncodingOptions = {}): Float32Array {
  const { scale = 1 / 255, mean, std } = options;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new Error(`scale must be a finite number (received ${scale})`);
  }
  checkChannels('mean', mean, channels, false);
  checkChannels('std', std, channels, true);
  const table = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    const m = mean?.[c] ?? 0;
    const s = std?.[c] ?? 1;
    for (let v = 0; v < 256; v++) table[c * 256 + v] = (v * scale - m) / s;
  }
  return table;
}

/** A {@link PixelEncoder} for images of `shape` through `table` (from {@link pixelTable}). */
export function createPixelEncoder(shape: readonly [number, number, number], table: Float32Array): PixelEncoder {
  const [height, width, channels] = shape;
  const pixels = height * width * channels;
  const positions = height * width;
  return (images, rows) => {
    const x = new Float32Array(rows.length * pixels);
    for (let i = 0; i < rows.length; i++) {
      let source = (rows[i] as number) * pixels;
      let target = i * pixels;
      if (channels === 1) {
        for (let p = 0; p < pixels; p++) x[target++] = table[images[source++] as number] as number;
      } else {
        for (let p = 0; p < positions; p++) {
          for (let c = 0; c < channels; c++) x[target++] = table[c * 256 + (images[source++] as number)] as number;
        }
      }
    }
    return x;
  };
}

/** Encodes the labels of dataset rows `labelRows` as a tensor: one-hot float32 `[B, numClasses]` or int32 `[B]`. */
export type LabelEncoder = (labelRows: ArrayLike<number>) => tf.Tensor;

/** Validates `labels` and returns a {@link LabelEncoder} for `dataset`. */
export function createLabelEncoder(dataset: Dataset, labels: LabelEncoding = 'oneHot'): LabelEncoder {
  if (labels !== 'oneHot' && labels !== 'index') {
    throw new Error(`labels must be 'oneHot' or 'index' (received ${JSON.stringify(labels)})`);
  }
  const { numClasses } = dataset;
  return (labelRows) => {
    const size = labelRows.length;
    if (labels === 'index') return tf.tensor1d(Int32Array.from({ length: size }, (_, i) => dataset.labels[labelRows[i] as number] as number), 'int32');
    const y = new Float32Array(size * numClasses);
    for (let i = 0; i < size; i++) y[i * numClasses + (dataset.labels[labelRows[i] as number] as number)] = 1;
    return tf.tensor2d(y, [size, numClasses], 'float32');
  };
}

/** Validates the encoding options for `dataset` and returns a {@link RowEncoder}. */
export function createRowEncoder(dataset: Dataset, options: BatchEncodingOptions = {}): RowEncoder {
  const encodeLabels = createLabelEncoder(dataset, options.labels);
  const encodePixels = createPixelEncoder(dataset.shape, pixelTable(dataset.shape[2], options));
  const [height, width, channels] = dataset.shape;
  return (images, rows, labelRows) => ({
    x: tf.tensor4d(encodePixels(images, rows), [rows.length, height, width, channels], 'float32'),
    y: encodeLabels(labelRows),
  });
}

/**
 * Turns a whole (small) dataset into one `{ x, y }` pair of tensors, in dataset order.
 *
 * Use it for evaluation sets and tests, where one `model.evaluate(x, y)` call is simplest.
 * `x` is float32 `[N, H, W, C]` normalised as `(byte × scale − mean[c]) / std[c]`, exactly as
 * a {@link DataLoader} with the same options does; `y` is one-hot float32 `[N, numClasses]`
 * or int32 `[N]`. For 10,000 28×28 images `x` takes 31 MB.
 *
 * Options: `labels` (defaults to `'oneHot'`), `scale` (defaults to `1/255`), `mean` and
 * `std` (per channel; default to no normalisation).
 *
 * @returns new tensors; the caller disposes both.
 * @throws if `mean`/`std` do not have one entry per channel, or the dataset is empty.
 * @example
 * ```ts
 * const test = await loadFashionMnist({ split: 'test' });
 * const { x, y } = toTensors(test);
 * const [loss, accuracy] = model.evaluate(x, y) as tf.Scalar[];
 * tf.dispose([x, y, loss, accuracy]);
 * ```
 */
export function toTensors(dataset: ImageDataset, options: BatchEncodingOptions = {}): ImageBatch {
  if (dataset.length === 0) {
    throw new Error(`dataset must not be empty (received a dataset of 0 images from ${dataset.source})`);
  }
  const encode = createBatchEncoder(dataset, options);
  const indices = new Int32Array(dataset.length);
  for (let i = 0; i < indices.length; i++) indices[i] = i;
  return encode(indices);
}
