/**
 * A labelled image classification dataset held in memory as raw bytes.
 *
 * Images stay `Uint8Array` (N×H×W×C, row-major, the layout of a `[N, H, W, C]` tensor) so
 * that 60,000 Fashion-MNIST images take 47 MB instead of 188 MB as floats; a
 * {@link DataLoader} turns them into float batches on demand. Labels are class indices in
 * `[0, numClasses)`. Holds no tensors, so there is nothing to dispose.
 */
export interface ImageDataset {
  /** Pixel values, `length × H × W × C` bytes, row-major. */
  readonly images: Uint8Array;
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
  if (maxLabel >= numClasses) {
    const at = labels.indexOf(maxLabel);
    throw new Error(`labels[${at}] must be a class index below numClasses = ${numClasses} (received ${maxLabel})`);
  }
  return {
    images,
    labels,
    shape: [height, width, channels],
    numClasses,
    classNames: [...classNames],
    length: labels.length,
    source: init.source ?? 'memory',
  };
}

/**
 * Returns a new dataset holding the images at `indices`, in that order.
 *
 * Use it for splits, class filters and quick experiments on a slice. Indices may repeat
 * (over-sampling). The images are copied, so the result does not alias `dataset`.
 *
 * @param dataset - the dataset to take images from.
 * @param indices - positions in `dataset`, each an integer in `[0, dataset.length)`.
 * @throws if an index is out of range or not an integer.
 * @example
 * ```ts
 * const firstHundred = subset(train, Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function subset(dataset: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const [height, width, channels] = dataset.shape;
  const pixels = height * width * channels;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    if (!Number.isInteger(index) || index < 0 || index >= dataset.length) {
      throw new Error(
        `indices[${i}] must be an integer in [0, ${dataset.length}) (received ${index})`,
      );
    }
    images.set(dataset.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
    labels[i] = dataset.labels[index] as number;
  }
  return {
    images,
    labels,
    shape: [height, width, channels],
    numClasses: dataset.numClasses,
    classNames: dataset.classNames,
    length: labels.length,
    source: dataset.source,
  };
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
export function classCounts(dataset: ImageDataset): number[] {
  const counts = new Array<number>(dataset.numClasses).fill(0);
  for (const label of dataset.labels) counts[label] = (counts[label] as number) + 1;
  return counts;
}
