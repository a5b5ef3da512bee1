import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type sharpModule from 'sharp';
import { decodeBmp } from './bmp.js';
import { decodeJpegNative, JPEG_DECODERS, JPEG_EXTENSIONS, loadJpegKernels } from './native-jpeg.js';
import type { JpegDecoder } from './native-jpeg.js';
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
  /**
   * How many files are decoded at once (per batch, for `streamImageFolder`). Defaults to `16`: a batch's decodes are
   * queued together, so they run off the JS thread (libuv's, and for JPEGs @convkit/native's decode threads) while a
   * training step holds it.
   */
  concurrency?: number;
  /**
   * Which decoder reads JPEG files for a 3-channel result: `'auto'` uses libjpeg-turbo through `@convkit/native` when
   * that optional package is installed and built (decoding at 1/8, 1/4 or 1/2 of the full size when that still covers
   * `size`, then an antialiased bilinear resize: 2.5–3.3× less CPU than sharp), and sharp otherwise; `'sharp'` always uses
   * sharp (a Lanczos-3 resize). JPEGs with an ICC profile, CMYK or 12-bit JPEGs, other formats and `channels: 1`
   * always go through sharp. Defaults to the `CONVKIT_JPEG_DECODER` environment variable, else `'auto'`.
   */
  jpegDecoder?: 'auto' | 'sharp';
}

/** An {@link ImageDataset} read from a folder, with the files it came from. */
export interface ImageFolderDataset extends ImageDataset {
  /** The path of each image, in dataset order. */
  readonly files: readonly string[];
  /** The image files that could not be decoded and were skipped (`onError: 'skip'`). */
  readonly skipped: readonly string[];
}

/**
 * Decodes the image file `path` to exactly `height × width × channels` bytes (stretched, transparency flattened onto
 * black), off the JS thread. The one decoder of both kinds of image-folder dataset, so they agree bit for bit.
 *
 * A JPEG asked for in RGB goes to libjpeg-turbo (`@convkit/native`, when built and `jpegDecoder` is `'auto'`), which
 * decodes at the smallest DCT scale (1/8, 1/4, 1/2) still covering the target and resizes it with an antialiased
 * bilinear filter. Everything else, a JPEG with an ICC profile (sharp converts it to sRGB through the profile), and a
 * JPEG libjpeg-turbo rejects (so the error is sharp's), goes to sharp: shrink-on-load for JPEG and WebP, a Lanczos-3
 * resize, on libvips' threads.
 */
export async function decodeImageFile(path: string, height: number, width: number, channels: 1 | 3, jpegDecoder: JpegDecoder = 'auto'): Promise<Uint8Array> {
  const extension = extname(path).toLowerCase();
  const kernels = channels === 3 && jpegDecoder === 'auto' && JPEG_EXTENSIONS.includes(extension) ? await loadJpegKernels() : undefined;
  if (kernels !== undefined) {
    try {
      return await decodeJpegNative(kernels, path, height, width);
    } catch {
      // A file libjpeg-turbo does not take: sharp decodes it or says what is wrong with it.
    }
  }
  const sharp = await loadSharp('loadImageFolder');
  const bytes = await readFile(path);
  let image: sharpModule.Sharp;
  if (extension === '.bmp') {
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

/** The image files of a class-folder tree, in dataset order, with their labels. */
export interface ImageFolderIndex {
  files: string[];
  fileLabels: number[];
  classNames: readonly string[];
}

/**
 * Lists `dir/<class>/<image>` in dataset order: classes in `givenClassNames` order (default: the sorted sub-folders),
 * files sorted by name, only the extensions of {@link IMAGE_EXTENSIONS} (other files are ignored), hidden entries and
 * folders inside a class folder skipped (logged). Throws for a missing folder, no class folders, a named class folder
 * that is absent, or a class folder without images.
 */
export async function indexImageFolder(
  dir: string,
  givenClassNames: readonly string[] | undefined,
  log: (line: string) => void,
  caller: string,
): Promise<ImageFolderIndex> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`dir must be a readable folder of class folders (received ${JSON.stringify(dir)}: ${(error as Error).message})`, { cause: error });
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const classNames = givenClassNames ?? folders;
  if (classNames.length === 0) {
    throw new Error(`${dir} has no class folders (expected one sub-folder of images per class, e.g. ${join(dir, 'cat')})`);
  }
  const absent = classNames.filter((name) => !folders.includes(name));
  if (absent.length > 0) throw new Error(`classNames names folders missing from ${dir}: ${absent.join(', ')} (found ${folders.join(', ') || 'none'})`);

  const files: string[] = [];
  const fileLabels: number[] = [];
  const empty: string[] = [];
  const nested: string[] = [];
  for (const [label, name] of classNames.entries()) {
    const listed = await readdir(join(dir, name), { withFileTypes: true });
    for (const e of listed) if (e.isDirectory() && !e.name.startsWith('.')) nested.push(join(dir, name, e.name));
    const images = listed
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
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

  if (nested.length > 0) {
    log(`${caller}: not read (folders inside a class folder are not searched): ${nested.join(', ')}`);
  }
  return { files, fileLabels, classNames };
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** The checked options shared by {@link loadImageFolder} and `streamImageFolder`, defaults filled. */
export interface FolderSettings {
  height: number;
  width: number;
  channels: 1 | 3;
  onError: 'throw' | 'skip';
  concurrency: number;
  jpegDecoder: JpegDecoder;
  log: (line: string) => void;
}

function checkJpegDecoder(name: string, value: unknown): JpegDecoder {
  if (!JPEG_DECODERS.includes(value as JpegDecoder)) {
    throw new Error(`${name} must be one of ${JPEG_DECODERS.map((d) => `'${d}'`).join(', ')} (received ${JSON.stringify(value)})`);
  }
  return value as JpegDecoder;
}

/** Checks {@link LoadImageFolderOptions} and fills the defaults (`jpegDecoder` from `env.CONVKIT_JPEG_DECODER`). */
export function checkFolderOptions(options: LoadImageFolderOptions, env: Record<string, string | undefined> = process.env): FolderSettings {
  const { size, channels = 3, onError = 'throw', concurrency = 16 } = options ?? ({} as LoadImageFolderOptions);
  if (!Array.isArray(size) || size.length !== 2 || !size.every(isPositiveInteger)) {
    throw new Error(`size must be [height, width], two positive integers (received ${JSON.stringify(size)})`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`channels must be 1 or 3 (received ${JSON.stringify(channels)})`);
  if (onError !== 'throw' && onError !== 'skip') throw new Error(`onError must be 'throw' or 'skip' (received ${JSON.stringify(onError)})`);
  if (!isPositiveInteger(concurrency)) throw new Error(`concurrency must be a positive integer (received ${concurrency})`);
  const environment = env.CONVKIT_JPEG_DECODER;
  const jpegDecoder =
    options.jpegDecoder !== undefined
      ? checkJpegDecoder('jpegDecoder', options.jpegDecoder)
      : environment === undefined || environment === ''
        ? 'auto'
        : checkJpegDecoder('CONVKIT_JPEG_DECODER', environment);
  const log = options.log === false ? (): void => undefined : (options.log ?? ((line: string) => console.log(line)));
  const [height, width] = size;
  return { height, width, channels, onError, concurrency, jpegDecoder, log };
}

/**
 * Reads a folder of images with one sub-folder per class, like Keras `flow_from_directory`.
 *
 * Why: your own data usually arrives as `dir/<class>/<image>` files. Each image (jpg, png,
 * webp, gif, tiff or bmp, by extension, case-insensitive) is decoded with `sharp` (RGB
 * JPEGs with libjpeg-turbo when `@convkit/native` is built: see `jpegDecoder`),
 * stretched to `size` and converted to `channels`, and the class index is the position of
 * its folder in `classNames` (by default, the sorted sub-folder names). Files are read in
 * sorted order, so the result is the same on every run. Other files are ignored.
 *
 * Awkward folders: images of mixed sizes and modes (grayscale, RGBA, palette, 16-bit,
 * CMYK) are all stretched to `size` and converted to `channels` (alpha flattened onto
 * black); files without an image extension are ignored; a file with one that is not an
 * image, or cannot be read (a dangling symlink, no permission), fails with its name (or is
 * skipped with `onError: 'skip'`); a class folder without images is an error naming it;
 * folders inside a class folder are not read (a log line names them); symlinks to images
 * are followed.
 *
 * Options: `size` (required), `channels` (defaults to `3`), `classNames` (defaults to all
 * sub-folders, sorted), `onError` (defaults to `'throw'`), `log` (defaults to
 * `console.log`), `concurrency` (defaults to `16`), `jpegDecoder` (defaults to
 * `CONVKIT_JPEG_DECODER`, else `'auto'`).
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
  const { height, width, channels, onError, concurrency, jpegDecoder, log } = checkFolderOptions(options);
  const { files, fileLabels, classNames } = await indexImageFolder(dir, options.classNames, log, 'loadImageFolder');

  await loadSharp('loadImageFolder');
  const pixels = height * width * channels;
  // One buffer for the whole dataset: each image is decoded straight into its slot (no second copy while loading).
  let images = new Uint8Array(files.length * pixels);
  const errors: (Error | undefined)[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++;
      try {
        images.set(await decodeImageFile(files[index] as string, height, width, channels, jpegDecoder), index * pixels);
      } catch (error) {
        errors[index] = error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

  const failures = files.flatMap((file, i) => (errors[i] === undefined ? [] : [`${file}: ${(errors[i] as Error).message}`]));
  if (failures.length > 0 && onError === 'throw') {
    throw new Error(`${failures.length} image${failures.length > 1 ? 's' : ''} in ${dir} could not be decoded (pass onError: 'skip' to skip them):\n  ${failures.join('\n  ')}`);
  }
  const kept = files.flatMap((_, i) => (errors[i] === undefined ? [i] : []));
  if (kept.length < files.length) {
    kept.forEach((i, n) => images.copyWithin(n * pixels, i * pixels, (i + 1) * pixels));
    images = images.subarray(0, kept.length * pixels);
  }
  const skipped = files.filter((_, i) => errors[i] !== undefined);
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
