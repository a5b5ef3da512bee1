/**
 * What every dataset of this package is: labels in memory and a way to read the pixel bytes of any rows.
 *
 * Two kinds implement it: an {@link ImageDataset} holds every image in one `Uint8Array`; a
 * {@link StreamingImageDataset} (from {@link streamImageFolder}) holds file paths and labels only and decodes the rows a
 * batch asks for (optionally through an on-disk cache). The {@link DataLoader}, the samplers, {@link subset},
 * {@link trainValidSplit}, {@link stratifiedSplit}, {@link classSubset} and {@link classCounts} take either kind, so
 * transforms, schedules and resuming work the same on both; with the same seed they yield bit-identical batches.
 */
export interface Dataset {
  /** The class index of each image, in `[0, numClasses)`. */
  readonly labels: Int32Array;
  /** `[height, width, channels]` of every image. */
  readonly shape: readonly [number, number, number];
  /** The number of classes (the width of one-hot labels). */
  readonly numClasses: number;
  /** A readable name for each class index; `classNames.length === numClasses`. */
  readonly classNames: readonly string[];
  /** The number of images. */
  readonly length: number;
  /** Where the data came from, e.g. the directory it was read from. */
  readonly source: string;
  /**
   * The pixel bytes of the images at `rows` (positions in this dataset), one after another: `rows.length × H × W × C`
   * bytes, row-major. A new array the caller may keep. Rejects with an error naming the file for a row that cannot be
   * read (file-backed datasets).
   */
  readRows(rows: ArrayLike<number>): Promise<Uint8Array>;
}

/**
 * A labelled image classification dataset held in memory as raw bytes: the in-memory kind of {@link Dataset}.
 *
 * Images stay `Uint8Array` (N×H×W×C, row-major, the layout of a `[N, H, W, C]` tensor) so
 * that 60,000 Fashion-MNIST images take 47 MB instead of 188 MB as floats; a
 * {@link DataLoader} turns them into float batches on demand. Labels are class indices in
 * `[0, numClasses)`. Holds no tensors, so there is nothing to dispose.
 */
export interface ImageDataset extends Dataset {
  /** Pixel values, `length × H × W × C` bytes, row-major. */
  readonly images: Uint8Array;
}

/** Whether `dataset` holds its images in memory (an {@link ImageDataset}). */
export function isInMemory(dataset: Dataset): dataset is ImageDataset {
  return (dataset as Partial<ImageDataset>).images instanceof Uint8Array;
}

/** Copies the rows `rows` of `images` (`pixels` bytes each) into one new array. */
export function copyRows(images: Uint8Array, rows: ArrayLike<number>, pixels: number, count: number): Uint8Array {
  const out = new Uint8Array(rows.length * pixels);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as number;
    if (!Number.isInteger(row) || row < 0 || row >= count) {
      throw new Error(`rows[${i}] must be an integer in [0, ${count}) (received ${row})`);
    }
    out.set(images.subarray(row * pixels, (row + 1) * pixels), i * pixels);
  }
  return out;
}

/** Adds {@link Dataset.readRows} over `images` to an in-memory dataset's fields. */
export function inMemoryDataset(fields: Omit<ImageDataset, 'readRows'>): ImageDataset {
  const [height, width, channels] = fields.shape;
  const pixels = height * width * channels;
  const dataset: ImageDataset = {
    ...fields,
    readRows: async (rows) => copyRows(dataset.images, rows, pixels, dataset.length),
  };
  return dataset;
}

/** What {@link createImageDataset} needs: the bytes, the labels and the image shape. */
export interface ImageDatasetInit {
  /** Pixel values, N×H×W×C bytes, row-major. */
  images: Uint8Array;
  /** Class indices, one per image (any integer array-like; copied into an `Int32Array`). */
  labels: Int32Array | ArrayLike<number>;
  /** `[height, width, channels]` of every image. */
  shape: readonly [number, number, number];
  /** Class names; defaults to `'0'`, `'1'`, … for `numClasses` classes. */
  classNames?: readonly string[];
  /** Number of classes; defaults to `classNames.length`, else the largest label + 1. */
  numClasses?: number;
  /** Where the data came from. Defaults to `'memory'`. */
  source?: string;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/**
 * Builds an {@link ImageDataset} from raw bytes and labels, checking that they agree.
 *
 * Use it to wrap data from any source (synthetic images, a decoded folder) so every loader
 * and split in this package accepts it. The arrays are used as given (not copied), except
 * `labels` when it is not already an `Int32Array`.
 *
 * @throws if `shape` is not three positive integers, `images.length` is not
 *   `labels.length × H × W × C`, a label is not an integer in `[0, numClasses)`, or
 *   `classNames` and `numClasses` disagree.
 * @example
 * ```ts
 * const ds = createImageDataset({
 *   images: new Uint8Array(4 * 2 * 2 * 1), labels: [0, 1, 0, 1], shape: [2, 2, 1], classNames: ['off', 'on'],
 * });
 * ds.length; // 4
 * ```
 */
export function createImageDataset(init: ImageDatasetInit): ImageDataset {
  const { images, shape } = init;
  if (!(images instanceof Uint8Array)) {
    throw new Error(`images must be a Uint8Array (received ${(images as object | null)?.constructor?.name ?? String(images)})`);
  }
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every(isPositiveInteger)) {
    throw new Error(`shape must be [height, width, channels], three positive integers (received ${JSON.stringify(shape)})`);
  }
  if (!(init.labels instanceof Int32Array)) {
    const given = init.labels as ArrayLike<unknown> | null | undefined;
    if (given === null || typeof given !== 'object' || typeof given.length !== 'number') {
      throw new Error(`labels must be an array of class indices (received ${String(given)})`);
    }
    for (let i = 0; i < given.length; i++) {
      const label = given[i];
      if (typeof label !== 'number' || !Number.isInteger(label)) {
        throw new Error(`labels[${i}] must be an integer class index (received ${String(label)})`);
      }
    }
  }
  const labels = init.labels instanceof Int32Array ? init.labels : Int32Array.from(init.labels);
  const [height, width, channels] = shape;
  const pixels = height * width * channels;
  if (images.length !== labels.length * pixels) {
    throw new Error(
      `images must hold labels.length × H × W × C = ${labels.length} × ${height} × ${width} × ${channels} = ` +
        `${labels.length * pixels} bytes (received ${images.length})`,
    );
  }
  let maxLabel = -1;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (label < 0) throw new Error(`labels[${i}] must be a non-negative class index (received ${label})`);
    if (label > maxLabel) maxLabel = label;
  }
  if (init.numClasses !== undefined && !isPositiveInteger(init.numClasses)) {
    throw new Error(`numClasses must be a positive integer (received ${init.numClasses})`);
  }
  const numClasses = init.numClasses ?? init.classNames?.length ?? Math.max(maxLabel + 1, 1);
  const classNames = init.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (classNames.length !== numClasses) {
    throw new Error(`classNames must have numClasses = ${numClasses} entries (received ${classNames.length})`);
  }
  if (init.numClasses === undefined && init.classNames === undefined && labels.length > 0) {
    const seen = new Uint8Array(numClasses);
    for (const label of labels) seen[label] = 1;
    const missing = [];
    for (let c = 0; c < numClasses; c++) if (seen[c] === 0) missing.push(c);
    if (missing.length > 0) {
      const at = labels.indexOf(maxLabel);
      const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')}, … (${missing.length} classes)` : missing.join(', ');
      throw new Error(
        `labels[${at}] is ${maxLabel}, so the default class names would make ${numClasses} classes, but class ${shown} ` +
          `ha${missing.length > 1 ? 've' : 's'} no images: a label is out of range, or pass classNames or numClasses`,
      );
    }
  }
  if (maxLabel >= numClasses) {
    const at = labels.indexOf(maxLabel);
    throw new Error(`labels[${at}] must be a class index below numClasses = ${numClasses} (received ${maxLabel})`);
  }
  return inMemoryDataset({
    images,
    labels,
    shape: [height, width, channels],
    numClasses,
    classNames: [...classNames],
    length: labels.length,
    source: init.source ?? 'memory',
  });
}

/** What {@link subset} returns for a dataset type: an in-memory dataset stays in memory, any other becomes a view. */
export type SubsetOf<D extends Dataset> = D extends ImageDataset ? ImageDataset : Dataset;

function checkIndices(dataset: Dataset, indices: ArrayLike<number>): Int32Array {
  const rows = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    if (!Number.isInteger(index) || index < 0 || index >= dataset.length) {
      throw new Error(`indices[${i}] must be an integer in [0, ${dataset.length}) (received ${index})`);
    }
    rows[i] = index;
  }
  return rows;
}

/**
 * Returns a new dataset holding the images at `indices`, in that order.
 *
 * Use it for splits, class filters and quick experiments on a slice. Indices may repeat
 * (over-sampling). An in-memory {@link ImageDataset} gives an in-memory copy that does not
 * alias `dataset`; any other {@link Dataset} (e.g. a {@link StreamingImageDataset}) gives a view
 * that reads its rows through `dataset` (no bytes are copied or decoded; a `files` list is
 * carried over).
 *
 * @param dataset - the dataset to take images from.
 * @param indices - positions in `dataset`, each an integer in `[0, dataset.length)`.
 * @throws if an index is out of range or not an integer.
 * @example
 * ```ts
 * const firstHundred = subset(train, Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function subset<D extends Dataset>(dataset: D, indices: ArrayLike<number>): SubsetOf<D> {
  const rows = checkIndices(dataset, indices);
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) labels[i] = dataset.labels[rows[i] as number] as number;
  const fields = {
    labels,
    shape: dataset.shape,
    numClasses: dataset.numClasses,
    classNames: dataset.classNames,
    length: labels.length,
    source: dataset.source,
  };
  if (isInMemory(dataset)) {
    const [height, width, channels] = dataset.shape;
    const images = copyRows(dataset.images, rows, height * width * channels, dataset.length);
    return inMemoryDataset({ ...fields, images }) as SubsetOf<D>;
  }
  const files = (dataset as { files?: readonly string[] }).files;
  const view: Dataset & { files?: readonly string[] } = {
    ...fields,
    readRows: async (wanted) => dataset.readRows(Array.from(checkIndices(view, wanted), (row) => rows[row] as number)),
  };
  if (files !== undefined) view.files = Array.from(rows, (row) => files[row] as string);
  return view as SubsetOf<D>;
}

/**
 * Counts the images of each class.
 *
 * Use it to check balance before choosing a sampler or class weights.
 *
 * @returns an array of length `dataset.numClasses`; entry `c` is the number of images
 *   labelled `c`.
 * @example
 * ```ts
 * classCounts(train); // [6000, 6000, …] for Fashion-MNIST train
 * ```
 */
export function classCounts(dataset: Dataset): number[] {
  const counts = new Array<number>(dataset.numClasses).fill(0);
  for (const label of dataset.labels) counts[label] = (counts[label] as number) + 1;
  return counts;
}
