import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { FileSystem } from '@convkit/io';
import type { Dataset } from './dataset.js';
import { ImageCache } from './image-cache.js';
import type { CacheSource } from './image-cache.js';
import { checkFolderOptions, decodeImageFile, indexImageFolder } from './image-folder.js';
import type { LoadImageFolderOptions } from './image-folder.js';
import { JPEG_EXTENSIONS, loadJpegKernels } from './native-jpeg.js';
import { loadSharp } from './sharp-loader.js';

/** Options of {@link streamImageFolder}: those of `loadImageFolder`, plus the cache. */
export interface StreamImageFolderOptions extends LoadImageFolderOptions {
  /**
   * A decoded-image cache file (e.g. `'cache/pets-64.ckcache'`): the first epoch writes every image there once at
   * `size`, later epochs (and later runs) read rows from it by position instead of decoding. One file per folder and
   * size. Defaults to none: every batch decodes its files.
   */
  cache?: string;
  /** The file system the cache is renamed into place through (inject one in tests). Defaults to `@convkit/io`'s. */
  fileSystem?: FileSystem;
}

/**
 * An image folder read lazily: file paths and labels in memory, pixels decoded (or read from the cache) when a batch
 * asks for them. The file-backed kind of {@link Dataset}; {@link close} it when done with a cache.
 */
export interface StreamingImageDataset extends Dataset {
  /** The path of each image, in dataset order. */
  readonly files: readonly string[];
  /** Files that failed to decode and were replaced (`onError: 'skip'`), in the order they failed. */
  readonly skipped: readonly string[];
  /** The cache, when one was asked for: its `path`, and whether every image is in it yet. */
  readonly cache: { readonly path: string; readonly complete: boolean } | undefined;
  /** Waits for pending cache writes and closes the cache file. The dataset cannot be read afterwards. */
  close(): Promise<void>;
}

const workerDecodable = new WeakMap<Dataset, readonly string[]>();

/**
 * The files of `dataset`, row by row, when a DataLoader's worker threads may read and decode its rows themselves (the
 * same libjpeg-turbo call as `readRows`, so the same bytes): a streaming folder of RGB JPEGs only, without a cache
 * (whose writes happen in `readRows`), with the addon built. Else `undefined`.
 */
export function workerDecodableFiles(dataset: Dataset): readonly string[] | undefined {
  return workerDecodable.get(dataset);
}

/** Runs `task(i)` for `i` in `[0, count)`, at most `limit` at once. */
async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * Opens a folder of images with one sub-folder per class as a streaming dataset: the same files, labels, order and
 * decoding as `loadImageFolder`, but no pixel is held in memory. Each batch of a {@link DataLoader} decodes its files
 * off the JS thread (RGB JPEGs with libjpeg-turbo through `@convkit/native`, the rest with sharp) while the previous
 * batches train (`prefetch`; a loader with `workers` has its workers read and decode the JPEGs of a folder without a
 * cache), so memory stays at a few batches whatever the image count, and the first step comes after a listing of the
 * folder, not a decode of it.
 *
 * With `cache`, the first epoch also writes every decoded image into one file of fixed-stride rows (see the README);
 * later epochs read rows from it by position. A cache whose files changed, or that is truncated or damaged, is
 * rebuilt (logged); one made for another folder or size is refused with an error naming both.
 *
 * Errors while reading a batch name the file and what was expected: a file deleted since the folder was listed, one
 * that became unreadable or corrupt. With `onError: 'skip'`, such a file is logged, listed in `skipped`, and replaced
 * for good by the next readable file of the same class (so batches keep their size and labels; they differ from the
 * in-memory dataset's from then on).
 *
 * Options: `size` (required), `channels` (defaults to `3`), `classNames` (defaults to every sub-folder, sorted),
 * `onError` (defaults to `'throw'`), `log` (defaults to `console.log`), `concurrency` (files decoded at once per batch,
 * defaults to `16`), `cache` (defaults to none).
 *
 * @returns a {@link StreamingImageDataset}; with the same seed, sampler and transforms its `DataLoader` batches are
 *   bit-identical to those of `loadImageFolder` on the same folder.
 * @throws as `loadImageFolder` for the folder's layout, or for a cache of another folder or size.
 * @example
 * ```ts
 * const photos = await streamImageFolder('data/photos', { size: [224, 224], cache: 'data/photos-224.ckcache' });
 * const loader = new DataLoader(photos, { batchSize: 32, seed: 0 }); // same API as an in-memory dataset
 * // … train …
 * await photos.close();
 * ```
 */
export async function streamImageFolder(dir: string, options: StreamImageFolderOptions): Promise<StreamingImageDataset> {
  const { height, width, channels, onError, concurrency, jpegDecoder, log } = checkFolderOptions(options);
  if (options.cache !== undefined && (typeof options.cache !== 'string' || options.cache === '')) {
    throw new Error(`cache must be a file path (received ${JSON.stringify(options.cache)})`);
  }
  const { files, fileLabels, classNames } = await indexImageFolder(dir, options.classNames, log, 'streamImageFolder');
  await loadSharp('streamImageFolder');
  const pixels = height * width * channels;
  const labels = Int32Array.from(fileLabels);
  let cache: ImageCache | undefined;
  if (options.cache !== undefined) {
    // Synchronous: 20,000 stat calls queued as promises on libuv's 4 threads took ~4× as long as this loop, which
    // runs once, before any batch (the metadata of a just-listed folder is in the kernel's cache).
    const sources: CacheSource[] = files.map((path) => {
      const info = statSync(path);
      return { path, size: info.size, mtimeMs: info.mtimeMs };
    });
    cache = await ImageCache.open(
      options.cache,
      { dir: resolve(dir), shape: [height, width, channels], sources },
      { log, ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }) },
    );
  }
  const skipped: string[] = [];
  /** Rows whose file failed (`onError: 'skip'`); another file of the class is read in their place. */
  const dead = new Set<number>();
  let closed = false;

  const decodeRow = async (row: number): Promise<Uint8Array> => {
    const file = files[row] as string;
    try {
      return await decodeImageFile(file, height, width, channels, jpegDecoder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const what =
        code === 'ENOENT'
          ? 'the file is missing (deleted after the folder was listed, or a dangling link)'
          : code === 'EACCES' || code === 'EPERM'
            ? 'the file cannot be read (permission denied)'
            : `it cannot be decoded (${(error as Error).message})`;
      throw new Error(
        `${file} (row ${row}, class ${JSON.stringify(classNames[labels[row] as number])}) must be an image file ` +
          `decodable to ${width}×${height}×${channels}, but ${what}`,
        { cause: error },
      );
    }
  };

  /** `row`, or after its file failed the next readable row of its class (cyclically); `undefined` when none is left. */
  const standIn = (row: number): number | undefined => {
    for (let step = 0; step < files.length; step++) {
      const other = (row + step) % files.length;
      if (labels[other] === labels[row] && !dead.has(other)) return other;
    }
    return undefined;
  };

  const readRow = async (row: number, out: Uint8Array, offset: number, fromCache = true): Promise<void> => {
    for (;;) {
      const current = standIn(row);
      if (current === undefined) {
        const name = JSON.stringify(classNames[labels[row] as number]);
        throw new Error(`class ${name} has no readable file left (every one failed: ${skipped.join(', ')})`);
      }
      if (fromCache && cache?.has(row) === true && (await cache.read(row, out, offset))) return;
      try {
        const bytes = await decodeRow(current);
        out.set(bytes, offset);
        await cache?.write(row, bytes);
        return;
      } catch (error) {
        if (onError === 'throw') throw error;
        log(`streamImageFolder: skipped ${(error as Error).message}`);
        skipped.push(files[current] as string);
        dead.add(current);
      }
    }
  };

  const dataset: StreamingImageDataset = {
    labels,
    shape: [height, width, channels],
    numClasses: classNames.length,
    classNames: [...classNames],
    length: files.length,
    source: dir,
    files,
    skipped,
    get cache() {
      return cache === undefined ? undefined : { path: cache.path, complete: cache.complete };
    },
    async readRows(rows) {
      if (closed) throw new Error(`the dataset of ${dir} was closed; open it again with streamImageFolder`);
      const out = new Uint8Array(rows.length * pixels);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as number;
        if (!Number.isInteger(row) || row < 0 || row >= files.length) {
          throw new Error(`rows[${i}] must be an integer in [0, ${files.length}) (received ${row})`);
        }
      }
      // Rows in the cache are read at once, without a turn of the event loop (see ImageCache.readNow); the others,
      // and rows that fail their checksum (`false`, logged), are decoded.
      const left: number[] = [];
      const failed = new Set<number>();
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as number;
        const read = standIn(row) === undefined ? undefined : cache?.readNow(row, out, i * pixels);
        if (read === false) failed.add(i);
        if (read !== true) left.push(i);
      }
      if (left.length === 0) return out;
      await pool(left.length, concurrency, (k) => {
        const i = left[k] as number;
        return readRow(rows[i] as number, out, i * pixels, !failed.has(i));
      });
      return out;
    },
    async close() {
      closed = true;
      await cache?.close();
    },
  };
  if (
    cache === undefined &&
    channels === 3 &&
    jpegDecoder === 'auto' &&
    files.every((file) => JPEG_EXTENSIONS.includes(extname(file).toLowerCase())) &&
    (await loadJpegKernels()) !== undefined
  ) {
    workerDecodable.set(dataset, files);
  }
  log(
    `streamImageFolder: ${files.length} images in ${classNames.length} classes from ${dir}, decoded per batch to ` +
      `${height}×${width}×${channels}${cache === undefined ? '' : ` (cache ${cache.path}${cache.complete ? ', complete' : ', built in the first epoch'})`}`,
  );
  return dataset;
}
