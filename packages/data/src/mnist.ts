import type { ImageDataset } from './dataset.js';
import type { IdxDatasetFiles, IdxSourceOptions } from './load-idx-dataset.js';
import { loadIdxDataset } from './load-idx-dataset.js';

/** The ten MNIST classes, by label index: the digits `'0'` … `'9'`. */
export const MNIST_CLASS_NAMES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

/** The download address of MNIST (a mirror kept by the PyTorch project); file names are appended to it. */
export const MNIST_BASE_URL: string = 'https://ossci-datasets.s3.amazonaws.com/mnist/';

/** The file names of each MNIST split. */
export const MNIST_FILES: Readonly<Record<'train' | 'test', IdxDatasetFiles>> = Object.freeze({
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
});

/** The official MD5 of each MNIST file, checked after downloading. */
export const MNIST_CHECKSUMS: Readonly<Record<string, string>> = Object.freeze({
  'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
  'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
  't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
  't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
});

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions extends IdxSourceOptions {
  /** `'train'` (60,000 images) or `'test'` (10,000 images). */
  split: 'train' | 'test';
}

/**
 * Loads a split of MNIST: 28×28 grayscale images of handwritten digits in 10 classes.
 *
 * MNIST is the classic sanity check: a small CNN reaches ~99% test accuracy in one or two
 * epochs, so a pipeline that does not is broken. The files are looked for in `dir`,
 * `$CONVKIT_DATA_DIR/mnist` and the cache (`~/.cache/convkit/mnist`), and otherwise
 * downloaded from {@link MNIST_BASE_URL} with MD5 checks (Debian has no MNIST package, so
 * no system folder is searched unless you pass `systemDirs`); see {@link loadIdxDataset}.
 *
 * Options: `split` (required); `dir`, `systemDirs` (defaults to none), `cacheDir`,
 * `download` (defaults to `true`), `baseUrl` (defaults to {@link MNIST_BASE_URL}),
 * `checksums` (defaults to {@link MNIST_CHECKSUMS}), `fetch`, `log` (defaults to
 * `console.log`), `env`.
 *
 * @returns an {@link ImageDataset} of shape `[28, 28, 1]` with class names `'0'` … `'9'`;
 *   it holds no tensors.
 * @throws when the split's files are nowhere and cannot be downloaded, saying where it looked.
 * @example
 * ```ts
 * const test = await loadMnist({ split: 'test' });
 * console.log(test.length, test.shape); // 10000 [28, 28, 1]
 * ```
 */
export async function loadMnist(options: LoadMnistOptions): Promise<ImageDataset> {
  const { split, ...source } = options;
  const files = split === 'train' || split === 'test' ? MNIST_FILES[split] : undefined;
  if (files === undefined) {
    throw new Error(`split must be 'train' or 'test' (received ${JSON.stringify(split)})`);
  }
  return loadIdxDataset({
    ...source,
    systemDirs: source.systemDirs ?? [],
    baseUrl: source.baseUrl ?? MNIST_BASE_URL,
    checksums: source.checksums ?? MNIST_CHECKSUMS,
    name: 'mnist',
    files,
    classNames: MNIST_CLASS_NAMES,
  });
}
