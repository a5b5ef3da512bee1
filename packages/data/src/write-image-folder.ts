import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { loadSharp } from './sharp-loader.js';

/**
 * Writes a dataset as PNG files, one folder per class: `<dir>/<className>/<index>.png`.
 *
 * Why: to look at generated data, or to hand it to tools that read image folders (it reads
 * back with {@link loadImageFolder} at the same size and channels). Indices are zero-padded
 * so the files sort in dataset order; folders are created as needed and existing files
 * overwritten. Class names containing `/` or `\` are written with `_` instead.
 *
 * @returns the path of each file written, in dataset order.
 * @throws if `dataset` has other than 1, 3 or 4 channels, or a file cannot be written.
 * @example
 * ```ts
 * await writeImageFolder(markerImages({ count: 30, size: 128, markerSize: [12, 60] }), '/tmp/markers');
 * ```
 */
export async function writeImageFolder(dataset: ImageDataset, dir: string): Promise<string[]> {
  const [height, width, channels] = dataset.shape;
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new Error(`dataset.shape[2] must be 1, 3 or 4 channels to write PNG (received ${channels})`);
  }
  const sharp = await loadSharp('writeImageFolder');
  const folders = dataset.classNames.map((name) => join(dir, name.replace(/[/\\]/g, '_')));
  for (const folder of new Set(folders)) await mkdir(folder, { recursive: true });
  const digits = String(Math.max(dataset.length - 1, 0)).length;
  const pixels = height * width * channels;
  const paths: string[] = [];
  for (let i = 0; i < dataset.length; i++) {
    const path = join(folders[dataset.labels[i] as number] as string, `${String(i).padStart(digits, '0')}.png`);
    const raw = dataset.images.subarray(i * pixels, (i + 1) * pixels);
    await sharp(raw, { raw: { width, height, channels } }).png().toFile(path);
    paths.push(path);
  }
  return paths;
}
