import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { downloadFile } from './download.js';
import { loadIdxImagesAndLabels } from './idx-dataset.js';

/** The file names of one split of an IDX dataset. */
export interface IdxDatasetFiles {
  /** The images file, e.g. `'train-images-idx3-ubyte.gz'`. */
  images: string;
  /** The labels file, e.g. `'train-labels-idx1-ubyte.gz'`. */
  labels: string;
}

/** Where {@link loadIdxDataset} looks for files, and how it downloads them. */
export interface IdxSourceOptions {
  /** A folder holding the files; looked at first. Defaults to none. */
  dir?: string;
  /**
   * Folders installed system-wide, looked at after `$CONVKIT_DATA_DIR/<name>`. Defaults to
   * `['/usr/share/datasets/<name>']`, where the Debian `dataset-*` packages put them.
   */
  systemDirs?: readonly string[];
  /** The cache root; files live in `<cacheDir>/<name>`. Defaults to `$XDG_CACHE_HOME/convkit`, else `~/.cache/convkit`. */
  cacheDir?: string;
  /** Whether to download missing files into the cache. Defaults to `true`. */
  download?: boolean;
  /** The URL the file names are appended to. Defaults to the dataset's official address. */
  baseUrl?: string;
  /** Expected MD5 (lowercase hex) by file name, checked on download. Defaults to the dataset's official sums. */
  checksums?: Readonly<Record<string, string>>;
  /** The fetch function used to download (inject one in tests). Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Receives one line per notable step (where the data came from, downloads); `false` silences. Defaults to `console.log`. */
  log?: ((line: string) => void) | false;
  /** Environment variables to read (`CONVKIT_DATA_DIR`, `XDG_CACHE_HOME`, `HOME`). Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options of {@link loadIdxDataset}: which dataset and split, plus where to look. */
export interface LoadIdxDatasetOptions extends IdxSourceOptions {
  /** The dataset's folder name under every search root, e.g. `'fashion-mnist'`. */
  name: string;
  /** The files of the split to load. */
  files: IdxDatasetFiles;
  /** Class names; their count sets `numClasses`. Defaults to `'0'`, `'1'`, …. */
  classNames?: readonly string[];
  /** A hint appended to the "not found" error, e.g. how to install a system package. Defaults to none. */
  installHint?: string;
}

interface Candidate {
  label: string;
  dir: string | undefined;
  why?: string;
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  const names = name.endsWith('.gz') ? [name, name.slice(0, -3)] : [name];
  for (const candidate of names) {
    const path = join(dir, candidate);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch {
      // not there: try the next name
    }
  }
  return undefined;
}

async function findFiles(dir: string, files: IdxDatasetFiles): Promise<IdxDatasetFiles | string> {
  const images = await findFile(dir, files.images);
  const labels = await findFile(dir, files.labels);
  if (images !== undefined && labels !== undefined) return { images, labels };
  const missing = [images === undefined ? files.images : undefined, labels === undefined ? files.labels : undefined];
  return `missing ${missing.filter((m) => m !== undefined).join(' and ')}`;
}

/**
 * The cache folder of dataset `name`: `<cacheDir>/<name>`, where `cacheDir` defaults to
 * `$XDG_CACHE_HOME/convkit`, else `$HOME/.cache/convkit`.
 *
 * Useful to tell users where downloads go, or to clear the cache.
 *
 * @example
 * ```ts
 * datasetCacheDir('fashion-mnist'); // e.g. '/home/me/.cache/convkit/fashion-mnist'
 * ```
 */
export function datasetCacheDir(name: string, options: Pick<IdxSourceOptions, 'cacheDir' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  const root =
    options.cacheDir ??
    join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'convkit');
  return join(root, name);
}

function describeSearch(candidates: Candidate[]): string {
  return candidates.map((c) => `  - ${c.label}${c.dir !== undefined ? ` (${c.dir})` : ''}: ${c.why ?? ''}`).join('\n');
}

/**
 * Finds, or downloads and caches, one split of an IDX dataset (the MNIST family) and loads it.
 *
 * Why: datasets live in different places on different machines (a Debian package, a shared
 * data folder, a per-user cache), and a half-finished or corrupted download must never be
 * loaded. This function looks, in order, in:
 *
 * 1. `dir`;
 * 2. `$CONVKIT_DATA_DIR/<name>`;
 * 3. each of `systemDirs` (default `/usr/share/datasets/<name>`);
 * 4. the cache `<cacheDir>/<name>`;
 *
 * and takes the first folder holding both files (each may also be present without its
 * `.gz` suffix, uncompressed). When none has them and `download` is not `false`, it fetches
 * the missing files from `baseUrl`, checks their MD5 against `checksums`, and moves them
 * into the cache atomically. Errors say where it looked and what to do.
 *
 * @returns the split as an {@link ImageDataset}; `source` is the folder it was read from.
 * @throws when the files are nowhere and cannot be downloaded (network error, checksum
 *   mismatch, `download: false`), or when a file found is not valid IDX.
 * @example
 * ```ts
 * const mnistTest = await loadIdxDataset({
 *   name: 'mnist',
 *   files: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
 *   baseUrl: 'https://storage.googleapis.com/cvdf-datasets/mnist/',
 * });
 * ```
 */
export async function loadIdxDataset(options: LoadIdxDatasetOptions): Promise<ImageDataset> {
  const { name, files } = options;
  if (typeof name !== 'string' || name === '') {
    throw new Error(`name must be a non-empty folder name (received ${JSON.stringify(name)})`);
  }
  const env = options.env ?? process.env;
  const log = options.log === false ? (): void => undefined : (options.log ?? ((line: string) => console.log(line)));
  const dataDir = env['CONVKIT_DATA_DIR'];
  const cacheDir = datasetCacheDir(name, { env, ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }) });
  const candidates: Candidate[] = [
    options.dir === undefined ? { label: 'dir option', dir: undefined, why: 'not given' } : { label: 'dir option', dir: options.dir },
    dataDir ? { label: '$CONVKIT_DATA_DIR', dir: join(dataDir, name) } : { label: '$CONVKIT_DATA_DIR', dir: undefined, why: 'not set' },
    ...(options.systemDirs ?? [join('/usr/share/datasets', name)]).map((dir) => ({ label: 'system folder', dir })),
    { label: 'cache', dir: cacheDir },
  ];
  const loadFrom = async (dir: string, found: IdxDatasetFiles): Promise<ImageDataset> => {
    const dataset = await loadIdxImagesAndLabels(found.images, found.labels, {
      ...(options.classNames === undefined ? {} : { classNames: options.classNames }),
      source: dir,
    });
    const [height, width, channels] = dataset.shape;
    log(`${name}: ${dataset.length} images ${height}×${width}×${channels} from ${dir}`);
    return dataset;
  };

  for (const candidate of candidates) {
    if (candidate.dir === undefined) continue;
    const found = await findFiles(candidate.dir, files);
    if (typeof found === 'string') {
      candidate.why = found;
      continue;
    }
    return loadFrom(candidate.dir, found);
  }

  const wanted = `${files.images} and ${files.labels}`;
  const advice =
    `Put ${wanted} in one of these folders` +
    (options.installHint ? `, ${options.installHint}` : '') +
    (options.download === false ? ', or allow downloading (download: true).' : '.');
  if (options.download === false || options.baseUrl === undefined) {
    throw new Error(
      `${name}: ${wanted} not found, and ${options.download === false ? 'download is false' : 'no download URL is known'}.\n` +
        `Looked in:\n${describeSearch(candidates)}\n${advice}`,
    );
  }
  const baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  for (const file of [files.images, files.labels]) {
    if ((await findFile(cacheDir, file)) !== undefined) continue;
    const url = baseUrl + file;
    log(`${name}: downloading ${url} into ${cacheDir}`);
    const md5 = options.checksums?.[file];
    try {
      const size = await downloadFile({
        url,
        destination: join(cacheDir, file),
        ...(md5 === undefined ? {} : { md5 }),
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      });
      log(`${name}: saved ${file} (${(size / 1e6).toFixed(1)} MB${md5 === undefined ? ', no checksum known' : ', MD5 verified'})`);
    } catch (error) {
      throw new Error(
        `${name}: ${wanted} not found locally, and ${(error as Error).message}.\n` +
          `Looked in:\n${describeSearch(candidates)}\n${advice}`,
        { cause: error },
      );
    }
  }
  const downloaded = await findFiles(cacheDir, files);
  if (typeof downloaded === 'string') throw new Error(`${name}: after downloading, ${cacheDir} is ${downloaded}`);
  return loadFrom(cacheDir, downloaded);
}
