import { readFile, rm, stat } from 'node:fs/promises';
import { writeDirectoryAtomic } from '@convkit/io';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { ImageDataset } from './dataset.js';
import { createImageDataset } from './dataset.js';
import { fetchVerified } from './download.js';
import { datasetCacheDir } from './load-idx-dataset.js';
import { readTar } from './tar.js';

/** The ten CIFAR-10 classes, by label index. */
export const CIFAR10_CLASS_NAMES: readonly string[] = Object.freeze([
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
]);

/** The official address of the CIFAR-10 binary version. */
export const CIFAR10_URL: string = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';

/** The official MD5 of `cifar-10-binary.tar.gz`. */
export const CIFAR10_MD5: string = 'c32a1d4ab5d03f1284b67883e8d87530';

/** The batch files of each split, inside `cifar-10-batches-bin/`. */
export const CIFAR10_FILES: Readonly<Record<'train' | 'test', readonly string[]>> = Object.freeze({
  train: Object.freeze(['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']),
  test: Object.freeze(['test_batch.bin']),
});

const RECORD = 1 + 3 * 32 * 32;
const PLANE = 32 * 32;
const FOLDER = 'cifar-10-batches-bin';

/** Options of {@link loadCifar10}. */
export interface LoadCifar10Options {
  /** `'train'` (50,000 images in 5 batch files) or `'test'` (10,000 images). */
  split: 'train' | 'test';
  /** A folder holding the `.bin` files, directly or in `cifar-10-batches-bin/`; looked at first. Defaults to none. */
  dir?: string;
  /** The cache root; files live in `<cacheDir>/cifar-10/cifar-10-batches-bin`. Defaults to `$XDG_CACHE_HOME/convkit`, else `~/.cache/convkit`. */
  cacheDir?: string;
  /** Whether to download and extract the archive when the files are nowhere. Defaults to `true`. */
  download?: boolean;
  /** The archive's address. Defaults to {@link CIFAR10_URL}. */
  url?: string;
  /** The archive's expected MD5. Defaults to {@link CIFAR10_MD5}. */
  md5?: string;
  /** The fetch function used to download (inject one in tests). Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Receives one line per notable step; `false` silences. Defaults to `console.log`. */
  log?: ((line: string) => void) | false;
  /** Environment variables to read (`CONVKIT_DATA_DIR`, `XDG_CACHE_HOME`, `HOME`). Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The folder (the root or its `cifar-10-batches-bin/`) holding every file, else what is missing. */
async function findBatches(root: string, files: readonly string[]): Promise<string | { missing: string }> {
  for (const dir of [root, join(root, FOLDER)]) {
    let all = true;
    for (const file of files) all = all && (await isFile(join(dir, file)));
    if (all) return dir;
  }
  const missing: string[] = [];
  for (const file of files) if (!(await isFile(join(root, FOLDER, file))) && !(await isFile(join(root, file)))) missing.push(file);
  return { missing: `missing ${missing.length === 0 ? 'some of ' + files.join(', ') : missing.join(', ')}` };
}

/**
 * Decodes CIFAR-10 binary batches (records of 1 label byte + 3072 bytes: the red plane, then
 * green, then blue, each 32×32 row-major) into one HWC dataset.
 */
function decodeBatches(batches: { name: string; bytes: Uint8Array }[], source: string): ImageDataset {
  for (const { name, bytes } of batches) {
    if (bytes.length === 0 || bytes.length % RECORD !== 0) {
      throw new Error(`${name} must hold whole CIFAR-10 records of ${RECORD} bytes (received ${bytes.length} bytes)`);
    }
  }
  const count = batches.reduce((sum, batch) => sum + batch.bytes.length / RECORD, 0);
  const images = new Uint8Array(count * PLANE * 3);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { name, bytes } of batches) {
    for (let offset = 0; offset < bytes.length; offset += RECORD, n++) {
      const label = bytes[offset] as number;
      if (label > 9) throw new Error(`${name} record ${offset / RECORD} must have a label in [0, 9] (received ${label})`);
      labels[n] = label;
      const out = n * PLANE * 3;
      for (let c = 0; c < 3; c++) {
        const plane = offset + 1 + c * PLANE;
        for (let p = 0; p < PLANE; p++) images[out + p * 3 + c] = bytes[plane + p] as number;
      }
    }
  }
  return createImageDataset({ images, labels, shape: [32, 32, 3], classNames: CIFAR10_CLASS_NAMES, source });
}

async function downloadAndExtract(options: LoadCifar10Options, cacheDir: string, log: (line: string) => void): Promise<void> {
  const url = options.url ?? CIFAR10_URL;
  log(`cifar-10: downloading ${url} into ${cacheDir}`);
  const bytes = await fetchVerified(url, options.md5 ?? CIFAR10_MD5, options.fetch ?? globalThis.fetch);
  const entries = readTar(new Uint8Array(await promisify(gunzip)(bytes)));
  const wanted = new Set([...CIFAR10_FILES.train, ...CIFAR10_FILES.test]);
  const batches = entries.filter((entry) => entry.name.split('/').includes(FOLDER) && wanted.has(basename(entry.name)));
  if (batches.length === 0) throw new Error(`${url} holds no ${FOLDER}/*.bin files`);
  const target = join(cacheDir, FOLDER);
  await rm(target, { recursive: true, force: true });
  await writeDirectoryAtomic(target, Object.fromEntries(batches.map((entry) => [basename(entry.name), entry.data])));
  log(`cifar-10: MD5 verified, extracted ${batches.length} batch files into ${target}`);
}

/**
 * Loads a split of CIFAR-10: 32×32 colour images of 10 classes (airplane … truck).
 *
 * CIFAR-10 is the standard small benchmark where augmentation, normalisation and schedules
 * matter. The binary batches are looked for in `dir`, `$CONVKIT_DATA_DIR/cifar-10` and the
 * cache `<cacheDir>/cifar-10` (each directly or in `cifar-10-batches-bin/`); when they are
 * nowhere and `download` is not `false`, the official archive is fetched, its MD5 checked,
 * and its batches extracted into the cache atomically (a temporary folder renamed into
 * place), so an interrupted download never leaves a half-written cache.
 *
 * Options: `split` (required); `dir`, `cacheDir`, `download` (defaults to `true`), `url`
 * (defaults to {@link CIFAR10_URL}), `md5` (defaults to {@link CIFAR10_MD5}), `fetch`, `log`
 * (defaults to `console.log`), `env` (defaults to `process.env`).
 *
 * @returns an {@link ImageDataset} of shape `[32, 32, 3]` (HWC, converted from the file's
 *   planar RGB) with {@link CIFAR10_CLASS_NAMES}; it holds no tensors.
 * @throws when the files are nowhere and cannot be downloaded (listing where it looked), on
 *   a checksum mismatch, or when a batch file's size is not a multiple of 3073 bytes.
 * @example
 * ```ts
 * const test = await loadCifar10({ split: 'test' });
 * console.log(test.length, test.shape, test.classNames[test.labels[0]]); // 10000 [32, 32, 3] 'cat'
 * ```
 */
export async function loadCifar10(options: LoadCifar10Options): Promise<ImageDataset> {
  const { split } = options;
  const files = split === 'train' || split === 'test' ? CIFAR10_FILES[split] : undefined;
  if (files === undefined) throw new Error(`split must be 'train' or 'test' (received ${JSON.stringify(split)})`);
  const env = options.env ?? process.env;
  const log = options.log === false ? (): void => undefined : (options.log ?? ((line: string) => console.log(line)));
  const cacheDir = datasetCacheDir('cifar-10', { env, ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }) });
  const dataDir = env['CONVKIT_DATA_DIR'];
  const roots: { label: string; dir: string | undefined; why?: string }[] = [
    { label: 'dir option', dir: options.dir, ...(options.dir === undefined ? { why: 'not given' } : {}) },
    { label: '$CONVKIT_DATA_DIR', dir: dataDir ? join(dataDir, 'cifar-10') : undefined, ...(dataDir ? {} : { why: 'not set' }) },
    { label: 'cache', dir: cacheDir },
  ];
  const load = async (dir: string): Promise<ImageDataset> => {
    const batches = await Promise.all(files.map(async (file) => ({ name: join(dir, file), bytes: new Uint8Array(await readFile(join(dir, file))) })));
    const dataset = decodeBatches(batches, dir);
    log(`cifar-10: ${dataset.length} images 32×32×3 from ${dir}`);
    return dataset;
  };
  for (const root of roots) {
    if (root.dir === undefined) continue;
    const found = await findBatches(root.dir, files);
    if (typeof found === 'string') return load(found);
    root.why = found.missing;
  }
  const looked = roots.map((r) => `  - ${r.label}${r.dir === undefined ? '' : ` (${r.dir})`}: ${r.why ?? ''}`).join('\n');
  const where = `cifar-10: ${files.join(', ')} not found`;
  if (options.download === false) {
    throw new Error(`${where}, and download is false.\nLooked in:\n${looked}\nPut the files in one of these folders, or allow downloading (download: true).`);
  }
  try {
    await downloadAndExtract(options, cacheDir, log);
  } catch (error) {
    throw new Error(`${where} locally, and ${(error as Error).message}.\nLooked in:\n${looked}`, { cause: error });
  }
  const extracted = await findBatches(cacheDir, files);
  if (typeof extracted !== 'string') throw new Error(`cifar-10: the downloaded archive lacks files of the ${split} split (${extracted.missing})`);
  return load(extracted);
}
