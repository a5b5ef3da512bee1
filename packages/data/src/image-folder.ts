import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type sharpModule from 'sharp';
import { decodeBmp } from './bmp.js';
import { loadSharp } from './sharp-loader.js';
import type { ImageDataset } from './dataset.js';
import { createImageDataset } from './dataset.js';

/** The file extensions {@link loadImageFolder} reads (lowercase, with the dot). */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp']);

/** Options of {@link loadImageFolder}. */
export interface LoadImageFolderOptions {
  /** `[height, width]` every image is resized to (stretched, like Keras `target_size`). */
  size: readonly [number, number];
  /** `1` (grayscale) or `3` (RGB); transparency is flattened onto black. Defaults to `3`. */
  channels?: 1 | 3;
  /** The class folders to read, in label order. Defaults to every sub-folder, sorted by name. */
  classNames?: readonly string[];
  /** What to do with a file that cannot be decoded: `'throw'` (defaults) or `'skip'` (logged and listed in `skipped`). */
  onError?: 'throw' | 'skip';
  /** Receives one line per notable step (skipped files, the summary); `false` silences. Defaults to `console.log`. */
  log?: ((line: string) => void) | false;
  /** How many files are decoded at once. Defaults to `4`. */
  concurrency?: number;
}

/** An {@link ImageDataset} read from a folder, with the files it came from. */
export interface ImageFolderDataset extends ImageDataset {
  /** The path of each image, in dataset order. */
  readonly files: readonly string[];
  /** The image files that could not be decoded and were skipped (`onError: 'skip'`). */
  readonly skipped: readonly string[];
}

async function decode(path: string, height: number, width: number, channels: 1 | 3): Promise<Uint8Array> {
  const sharp = await loadSharp('loadImageFolder');
  const bytes = await readFile(path);
  let image: sharpModule.Sharp;
  if (extname(path).toLowerCase() === '.bmp') {
    const bmp = decodeBmp(bytes);
    image = sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } });
  } else {
    image = sharp(bytes);
  }
  image = image.flatten({ background: '#000000' }).resize(width, height, { fit: 'fill' });
  image = channels === 1 ? image.grayscale() : image.toColourspace('srgb');
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || data.length !== height * width * channels) {
    throw new Error(`decoded to ${info.width}×${info.height}×${info.channels} instead of ${width}×${height}×${channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/**
 * Reads a folder of images with one sub-folder per class, like Keras `flow_from_directory`.
 *
 * Why: your own data usually arrives as `dir/<class>/<image>` files. Each image (jpg, png,
 * webp, gif, tiff or bmp, by extension, case-insensitive) is decoded with `sharp`,
 * stretched to `size` and converted to `channels`, and the class index is the position of
 * its folder in `classNames` (by default, the sorted sub-folder names). Files are read in
 * sorted order, so the result is the same on every run. Other files are ignored.
 *
 * Options: `size` (required), `channels` (defaults to `3`), `classNames` (defaults to all
 * sub-folders, sorted), `onError` (defaults to `'throw'`), `log` (defaults to
 * `console.log`), `concurrency` (defaults to `4`).
 *
 * @returns an {@link ImageFolderDataset} (no tensors) whose `source` is `dir`, with the
 *   `files` read and the `skipped` ones.
 * @throws when `dir` has no class folders, a class folder (named) has no images, no folder
 *   has any, or, with `onError: 'throw'`, listing every file that could not be decoded.
 * @example
 * ```ts
 * const pets = await loadImageFolder('data/pets', { size: [64, 64], channels: 3, onError: 'skip' });
 * console.log(pets.classNames, pets.length, pets.skipped); // ['cat', 'dog'] 1980 ['data/pets/cat/broken.jpg', …]
 * ```
 */
export async function loadImageFolder(dir: string, options: LoadImageFolderOptions): Promise<ImageFolderDataset> {
  const { size, channels = 3, onError = 'throw', concurrency = 4 } = options;
  if (!Array.isArray(size) || size.length !== 2 || !size.every(isPositiveInteger)) {
    throw new Error(`size must be [height, width], two positive integers (received ${JSON.stringify(size)})`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`channels must be 1 or 3 (received ${JSON.stringify(channels)})`);
  if (onError !== 'throw' && onError !== 'skip') throw new Error(`onError must be 'throw' or 'skip' (received ${JSON.stringify(onError)})`);
  if (!isPositiveInteger(concurrency)) throw new Error(`concurrency must be a positive integer (received ${concurrency})`);
  const log = options.log === false ? (): void => undefined : (options.log ?? ((line: string) => console.log(line)));
  const [height, width] = size;

  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`dir must be a readable folder of class folders (received ${JSON.stringify(dir)}: ${(error as Error).message})`, { cause: error });
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const classNames = options.classNames ?? folders;
  if (classNames.length === 0) {
    throw new Error(`${dir} has no class folders (expected one sub-folder of images per class, e.g. ${join(dir, 'cat')})`);
  }
  const absent = classNames.filter((name) => !folders.includes(name));
  if (absent.length > 0) throw new Error(`classNames names folders missing from ${dir}: ${absent.join(', ')} (found ${folders.join(', ') || 'none'})`);

  const files: string[] = [];
  const fileLabels: number[] = [];
  const empty: string[] = [];
  for (const [label, name] of classNames.entries()) {
    const images = (await readdir(join(dir, name), { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    if (images.length === 0) empty.push(name);
    for (const image of images) {
      files.push(join(dir, name, image));
      fileLabels.push(label);
    }
  }
  if (files.length === 0) {
    throw new Error(`${dir} has no images in its class folders ${classNames.join(', ')} (extensions read: ${IMAGE_EXTENSIONS.join(' ')})`);
  }
  if (empty.length > 0) {
    throw new Error(`class folder${empty.length > 1 ? 's' : ''} ${empty.map((name) => join(dir, name)).join(', ')} of ${dir} ha${empty.length > 1 ? 've' : 's'} no images`);
  }

  await loadSharp('loadImageFolder');
  const pixels = height * width * channels;
  const decoded: (Uint8Array | Error)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++;
      try {
        decoded[index] = await decode(files[index] as string, height, width, channels);
      } catch (error) {
        decoded[index] = error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

  const failures = files.flatMap((file, i) => (decoded[i] instanceof Error ? [`${file}: ${(decoded[i] as Error).message}`] : []));
  if (failures.length > 0 && onError === 'throw') {
    throw new Error(`${failures.length} image${failures.length > 1 ? 's' : ''} in ${dir} could not be decoded (pass onError: 'skip' to skip them):\n  ${failures.join('\n  ')}`);
  }
  const kept = files.flatMap((_, i) => (decoded[i] instanceof Error ? [] : [i]));
  const images = new Uint8Array(kept.length * pixels);
  kept.forEach((i, n) => images.set(decoded[i] as Uint8Array, n * pixels));
  const skipped = files.filter((_, i) => decoded[i] instanceof Error);
  for (const failure of failures) log(`loadImageFolder: skipped ${failure}`);
  const dataset = createImageDataset({
    images,
    labels: kept.map((i) => fileLabels[i] as number),
    shape: [height, width, channels],
    classNames,
    source: dir,
  });
  log(`loadImageFolder: ${dataset.length} images ${height}×${width}×${channels} in ${classNames.length} classes from ${dir}${skipped.length > 0 ? `, ${skipped.length} skipped` : ''}`);
  return { ...dataset, files: kept.map((i) => files[i] as string), skipped };
}
