import { dirname } from 'node:path';
import { createImageDataset } from './dataset.js';
import type { ImageDataset } from './dataset.js';
import { readIdxFile } from './idx.js';

/** Options of {@link loadIdxImagesAndLabels}. */
export interface LoadIdxImagesAndLabelsOptions {
  /** Class names; their count sets `numClasses`. Defaults to `'0'`, `'1'`, … up to the largest label. */
  classNames?: readonly string[];
  /** Where the data came from, stored as `dataset.source`. Defaults to the images file's directory. */
  source?: string;
}

/**
 * Reads an image IDX file and a label IDX file (each gzipped or not) into an {@link ImageDataset}.
 *
 * The images file must hold unsigned bytes with dims `[N, H, W]` (one channel, as in MNIST)
 * or `[N, H, W, C]`; the labels file must be one-dimensional `[N]` with integer values.
 * This is the building block of the MNIST-family loaders; call it directly for IDX files of
 * your own.
 *
 * @param imagesPath - the images file, e.g. `train-images-idx3-ubyte.gz`.
 * @param labelsPath - the labels file, e.g. `train-labels-idx1-ubyte.gz`.
 * @throws naming the file(s) when a file is not valid IDX, the images are not bytes of rank
 *   3 or 4, the labels are not 1-D integers, or the two counts disagree.
 * @example
 * ```ts
 * const dir = '/usr/share/datasets/fashion-mnist';
 * const test = await loadIdxImagesAndLabels(`${dir}/t10k-images-idx3-ubyte.gz`, `${dir}/t10k-labels-idx1-ubyte.gz`);
 * test.length; // 10000
 * ```
 */
export async function loadIdxImagesAndLabels(
  imagesPath: string,
  labelsPath: string,
  options: LoadIdxImagesAndLabelsOptions = {},
): Promise<ImageDataset> {
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  if (!(images.data instanceof Uint8Array) || (images.dims.length !== 3 && images.dims.length !== 4)) {
    throw new Error(
      `${imagesPath}: images must be unsigned bytes (type 0x08) with dims [N, H, W] or [N, H, W, C] ` +
        `(received ${images.data.constructor.name} with dims [${images.dims.join(', ')}])`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsPath}: labels must be 1-D [N] (received dims [${labels.dims.join(', ')}])`);
  }
  if (labels.data instanceof Float32Array || labels.data instanceof Float64Array) {
    throw new Error(`${labelsPath}: labels must be integers (received ${labels.data.constructor.name})`);
  }
  const [count, height, width, channels = 1] = images.dims as [number, number, number, number?];
  if (labels.dims[0] !== count) {
    throw new Error(
      `image and label counts disagree: ${imagesPath} has ${count} images but ${labelsPath} has ${labels.dims[0]} labels`,
    );
  }
  try {
    return createImageDataset({
      images: images.data,
      labels: Int32Array.from(labels.data),
      shape: [height, width, channels],
      ...(options.classNames === undefined ? {} : { classNames: options.classNames }),
      source: options.source ?? dirname(imagesPath),
    });
  } catch (error) {
    throw new Error(`${labelsPath}: ${(error as Error).message}`, { cause: error });
  }
}
