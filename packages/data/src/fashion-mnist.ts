import type { ImageDataset } from './dataset.js';
import type { IdxDatasetFiles, IdxSourceOptions } from './load-idx-dataset.js';
import { loadIdxDataset } from './load-idx-dataset.js';

/** The ten Fashion-MNIST classes, by label index. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

/** The official download address of Fashion-MNIST; file names are appended to it. */
export const FASHION_MNIST_BASE_URL: string = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** The file names of each Fashion-MNIST split. */
export const FASHION_MNIST_FILES: Readonly<Record<'train' | 'test', IdxDatasetFiles>> = Object.freeze({
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
});

/** The official MD5 of each Fashion-MNIST file, checked after downloading. */
export const FASHION_MNIST_CHECKSUMS: Readonly<Record<string, string>> = Object.freeze({
  'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
  't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
  't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
});

/** Options of {@link loadFashionMnist}. */
export interface LoadFashionMnistOptions extends IdxSourceOptions {
  /** `'train'` (60,000 images) or `'test'` (10,000 images). */
  split: 'train' | 'test';
}

/**
 * Loads a split of Fashion-MNIST: 28×28 grayscale images of clothing in 10 classes.
 *
 * Fashion-MNIST is a drop-in replacement for MNIST that is hard enough for learning-rate
 * schedules, augmentation and regularisation to make a visible difference. The files are
 * looked for in `dir`, `$CONVKIT_DATA_DIR/fashion-mnist`, `/usr/share/datasets/fashion-mnist`
 * (Debian: `sudo apt-get install dataset-fashion-mnist`) and the cache
 * (`~/.cache/convkit/fashion-mnist`), and otherwise downloaded from the official address
 * with MD5 checks; see {@link loadIdxDataset} for every option.
 *
 * Options: `split` (required); `dir`, `systemDirs`, `cacheDir`, `download` (defaults to
 * `true`), `baseUrl` (defaults to {@link FASHION_MNIST_BASE_URL}), `checksums` (defaults to
 * {@link FASHION_MNIST_CHECKSUMS}), `fetch`, `log` (defaults to `console.log`), `env`.
 *
 * @returns an {@link ImageDataset} of shape `[28, 28, 1]` with the class names of
 *   {@link FASHION_MNIST_CLASS_NAMES}; it holds no tensors.
 * @throws when the split's files are nowhere and cannot be downloaded, saying where it looked.
 * @example
 * ```ts
 * const train = await loadFashionMnist({ split: 'train' });
 * console.log(train.length, train.shape, train.classNames[9]); // 60000 [28, 28, 1] 'Ankle boot'
 * ```
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<ImageDataset> {
  const { split, ...source } = options;
  const files = split === 'train' || split === 'test' ? FASHION_MNIST_FILES[split] : undefined;
  if (files === undefined) {
    throw new Error(`split must be 'train' or 'test' (received ${JSON.stringify(split)})`);
  }
  return loadIdxDataset({
    ...source,
    baseUrl: source.baseUrl ?? FASHION_MNIST_BASE_URL,
    checksums: source.checksums ?? FASHION_MNIST_CHECKSUMS,
    name: 'fashion-mnist',
    files,
    classNames: FASHION_MNIST_CLASS_NAMES,
    installHint: 'install the Debian package (sudo apt-get install dataset-fashion-mnist)',
  });
}
