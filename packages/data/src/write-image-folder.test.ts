import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circleImages } from './circle-images.js';
import { loadImageFolder } from './image-folder.js';
import { knifeFrames } from './knife-frames.js';
import { writeImageFolder } from './write-image-folder.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-write-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeImageFolder', () => {
  it('writes one PNG per image into class folders, read back losslessly by loadImageFolder', async () => {
    const ds = knifeFrames({ count: 4, size: 8, seed: 2 });
    const paths = await writeImageFolder(ds, join(root, 'knives'));
    expect(paths.map((p) => p.slice(root.length + 1))).toEqual(
      Array.from(ds.labels, (label, i) => join('knives', label === 1 ? 'knife' : 'empty', `${i}.png`)),
    );
    const back = await loadImageFolder(join(root, 'knives'), { size: [8, 8], channels: 3, classNames: ds.classNames, log: false });
    // loadImageFolder reads class by class, so compare image by image through the file names.
    back.files.forEach((file, j) => {
      const i = paths.indexOf(file);
      expect(Buffer.from(back.images.subarray(j * 192, (j + 1) * 192)).equals(Buffer.from(ds.images.subarray(i * 192, (i + 1) * 192)))).toBe(true);
    });

    const gray = circleImages({ count: 11, size: 12, circles: [1, 2], radius: 2, seed: 0 });
    const grayPaths = await writeImageFolder(gray, join(root, 'circles'));
    expect(grayPaths[10]?.endsWith('10.png')).toBe(true);
    expect(grayPaths[0]?.endsWith('00.png')).toBe(true);
    expect((await readdir(join(root, 'circles'))).sort()).toEqual(['1', '2']);
    const grayBack = await loadImageFolder(join(root, 'circles'), { size: [12, 12], channels: 1, log: false });
    expect(grayBack.length).toBe(11);
    const first = grayPaths.indexOf(grayBack.files[0] as string);
    expect(Array.from(grayBack.images.subarray(0, 144))).toEqual(Array.from(gray.images.subarray(first * 144, (first + 1) * 144)));
  });
});
