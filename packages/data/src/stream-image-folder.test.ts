import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { nodeFileSystem } from '@convkit/io';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoader } from './data-loader.js';
import type { DataLoaderOptions } from './data-loader.js';
import type { Dataset } from './dataset.js';
import { classCounts, subset } from './dataset.js';
import { loadImageFolder } from './image-folder.js';
import type { IndexSampler } from './index-sampler.js';
import { trainValidSplit } from './split.js';
import { streamImageFolder } from './stream-image-folder.js';
import type { StreamingImageDataset } from './stream-image-folder.js';

let root: string;
const quiet = { log: false as const };
const SIZE: [number, number] = [12, 10];

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'convkit-stream-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A `width × height` image of seeded noise, encoded as `format`. */
async function noise(seed: number, width: number, height: number, format: 'png' | 'jpeg'): Promise<Buffer> {
  const rng = createRng(seed);
  const pixels = Buffer.from(Array.from({ length: width * height * 3 }, () => rng.int(0, 256)));
  return sharp(pixels, { raw: { width, height, channels: 3 } }).toFormat(format).toBuffer();
}

/** `count` images per class in `classes`, mixed sizes and formats; returns the folder. */
async function makeFolder(name: string, classes: readonly string[], count: number): Promise<string> {
  const dir = join(root, name);
  for (const [c, label] of classes.entries()) {
    await mkdir(join(dir, label), { recursive: true });
    for (let i = 0; i < count; i++) {
      const format = i % 2 === 0 ? 'jpeg' : 'png';
      await writeFile(join(dir, label, `${i}.${format === 'jpeg' ? 'jpg' : 'png'}`), await noise(100 * c + i, 20 + 3 * i, 16 + 2 * c, format));
    }
  }
  return dir;
}

/** Every batch of one epoch as plain numbers (x bytes and y), disposing the tensors. */
async function epoch(loader: DataLoader, limit = Infinity): Promise<{ x: number[]; y: number[] }[]> {
  const out: { x: number[]; y: number[] }[] = [];
  for await (const batch of loader) {
    out.push({ x: Array.from(await batch.x.data()), y: Array.from(await batch.y.data()) });
    tf.dispose([batch.x, batch.y]);
    if (out.length >= limit) break;
  }
  return out;
}

/** A sampler drawing every row once, in a seeded order, with every third row repeated: exercises the rng path. */
function repeatingSampler(size: number): IndexSampler {
  const rows = size + Math.floor(size / 3);
  return {
    epochIndices: (_epoch, rng) => {
      const order = rng.permutation(size);
      return Int32Array.from({ length: rows }, (_, i) => order[i % size] as number);
    },
    length: (batchSize, dropLast) => (dropLast ? Math.floor : Math.ceil)(rows / batchSize),
  };
}

const transform: DataLoaderOptions['transform'] = (x, rng) => tf.tidy(() => x.mul(0.5 + rng.next()).add(rng.next()));

describe('streamImageFolder', () => {
  it('yields batches bit-identical to loadImageFolder (streaming and cached), with splits, a sampler and a transform', async () => {
    const dir = await makeFolder('same', ['cat', 'dog', 'owl'], 7);
    const cachePath = join(root, 'same.ckcache');
    const memory = await loadImageFolder(dir, { size: SIZE, ...quiet });
    const streaming = await streamImageFolder(dir, { size: SIZE, ...quiet });
    const cached = await streamImageFolder(dir, { size: SIZE, cache: cachePath, ...quiet });
    expect(streaming.files).toEqual(memory.files);
    expect(Array.from(streaming.labels)).toEqual(Array.from(memory.labels));
    expect(streaming.classNames).toEqual(['cat', 'dog', 'owl']);
    expect(Array.from(await streaming.readRows([3, 0, 20]))).toEqual(Array.from(await memory.readRows([3, 0, 20])));

    const run = async (dataset: Dataset): Promise<{ x: number[]; y: number[] }[][]> => {
      const { train } = trainValidSplit(dataset, { validFraction: 0.25, seed: 5 });
      expect(classCounts(train)).toEqual([5, 5, 5]);
      const loader = new DataLoader(train, { batchSize: 4, seed: 9, sampler: repeatingSampler(train.length), transform });
      return [await epoch(loader), await epoch(loader), await epoch(loader)];
    };
    await expectNoLeak(async () => {
      const reference = await run(memory);
      expect(await run(streaming)).toEqual(reference);
      expect(cached.cache?.complete).toBe(false);
      expect(await run(cached)).toEqual(reference);
      expect(cached.cache?.complete).toBe(false); // the split visits 15 of the 21 images
      await cached.readRows(Array.from({ length: cached.length }, (_, i) => i));
      expect(cached.cache?.complete).toBe(true);
      // A later run reads the complete cache file by position.
      const reopened = await streamImageFolder(dir, { size: SIZE, cache: cachePath, ...quiet });
      expect(reopened.cache?.complete).toBe(true);
      expect(await run(reopened)).toEqual(reference);
      await reopened.close();
    });
    await Promise.all([streaming.close(), cached.close()]);
    expect((await readdir(root)).filter((name) => name.includes('same.ckcache'))).toEqual(['same.ckcache']);
  });

  it('resumes mid-epoch exactly from a DataLoader state, for in-memory, streaming and cached datasets', async () => {
    const dir = await makeFolder('resume', ['a', 'b'], 6);
    const kinds: [string, () => Promise<Dataset>][] = [
      ['memory', () => loadImageFolder(dir, { size: SIZE, ...quiet })],
      ['streaming', () => streamImageFolder(dir, { size: SIZE, ...quiet })],
      ['cached', () => streamImageFolder(dir, { size: SIZE, cache: join(root, 'resume.ckcache'), ...quiet })],
    ];
    const options: DataLoaderOptions = { batchSize: 3, seed: 4, transform };
    let reference: { x: number[]; y: number[] }[] | undefined;
    for (const [kind, open] of kinds) {
      const whole = new DataLoader(await open(), options);
      await epoch(whole);
      const expected = await epoch(whole);
      reference ??= expected;
      expect(expected, kind).toEqual(reference);

      const first = new DataLoader(await open(), options);
      await epoch(first);
      const head: { x: number[]; y: number[] }[] = [];
      let state: ReturnType<DataLoader['getState']> | undefined;
      for await (const batch of first) {
        head.push({ x: Array.from(await batch.x.data()), y: Array.from(await batch.y.data()) });
        tf.dispose([batch.x, batch.y]);
        if (head.length === 2) {
          state = JSON.parse(JSON.stringify(first.getState())) as ReturnType<DataLoader['getState']>;
          break;
        }
      }
      expect(state?.position).toBe(2);
      const resumed = new DataLoader(await open(), options);
      resumed.setState(state!);
      expect([...head, ...(await epoch(resumed))], kind).toEqual(expected);
    }
  });

  it('views of a streaming dataset read through it: subset keeps files, labels and bytes', async () => {
    const dir = await makeFolder('view', ['x', 'y'], 3);
    const streaming = await streamImageFolder(dir, { size: SIZE, ...quiet });
    const memory = await loadImageFolder(dir, { size: SIZE, ...quiet });
    const view = subset(streaming, [5, 0, 5]);
    expect((view as Dataset & { files?: string[] }).files).toEqual([streaming.files[5], streaming.files[0], streaming.files[5]]);
    expect(Array.from(view.labels)).toEqual([1, 0, 1]);
    expect(Array.from(await view.readRows([1, 2]))).toEqual(Array.from(await subset(memory, [0, 5]).readRows([0, 1])));
    await expect(view.readRows([3])).rejects.toThrow('indices[0] must be an integer in [0, 3) (received 3)');
  });
});

describe('streamImageFolder cache', () => {
  async function built(name: string, count = 3): Promise<{ dir: string; cache: string; bytes: number[] }> {
    const dir = await makeFolder(name, ['p', 'q'], count);
    const cache = join(root, `${name}.ckcache`);
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, ...quiet });
    const rows = Array.from({ length: dataset.length }, (_, i) => i);
    const bytes = Array.from(await dataset.readRows(rows));
    expect(dataset.cache?.complete).toBe(true);
    await dataset.close();
    return { dir, cache, bytes };
  }
  const all = (dataset: StreamingImageDataset): Promise<Uint8Array> => dataset.readRows(Array.from({ length: dataset.length }, (_, i) => i));

  it('writes each row once when a batch asks for the same row several times at once', async () => {
    const dir = await makeFolder('repeats', ['p', 'q'], 2);
    const cache = join(root, 'repeats.ckcache');
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, concurrency: 8, ...quiet });
    const first = await dataset.readRows([0, 0, 0, 1, 1, 2]);
    expect(dataset.cache?.complete).toBe(false); // row 3 not read yet
    const rest = await dataset.readRows([3, 3, 2]);
    expect(dataset.cache?.complete).toBe(true);
    await dataset.close();
    const reopened = await streamImageFolder(dir, { size: SIZE, cache, ...quiet });
    expect(reopened.cache?.complete).toBe(true);
    const pixels = SIZE[0] * SIZE[1] * 3;
    expect(Array.from(await reopened.readRows([0, 1, 2, 3]))).toEqual([
      ...first.subarray(0, pixels), ...first.subarray(3 * pixels, 4 * pixels), ...first.subarray(5 * pixels), ...rest.subarray(0, pixels),
    ]);
    await reopened.close();
  });

  it('later runs read rows from the cache file, not the sources', async () => {
    const { dir, cache, bytes } = await built('reuse');
    // Same size and mtime, other pixels: a valid cache still serves the old decode.
    const file = join(dir, 'p', '1.png');
    const before = await stat(file);
    const other = await sharp({ create: { width: 23, height: 16, channels: 3, background: '#00ff00' } }).png().toBuffer();
    await writeFile(file, Buffer.concat([other, Buffer.alloc(before.size - other.length)]).subarray(0, before.size));
    await utimes(file, before.atime, new Date(Math.trunc(before.mtimeMs)));
    const lines: string[] = [];
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, log: (line) => lines.push(line) });
    expect(lines).toEqual([`streamImageFolder: 6 images in 2 classes from ${dir}, decoded per batch to 12×10×3 (cache ${cache}, complete)`]);
    expect(Array.from(await all(dataset))).toEqual(bytes);
    await dataset.close();
  });

  it('rebuilds a stale cache (a source file changed) and a truncated one, logging why', async () => {
    const { dir, cache } = await built('stale');
    const file = join(dir, 'q', '0.jpg');
    await writeFile(file, await noise(999, 30, 30, 'jpeg'));
    const lines: string[] = [];
    const stale = await streamImageFolder(dir, { size: SIZE, cache, log: (line) => lines.push(line) });
    expect(lines[0]).toBe(`image cache ${cache} is rebuilt: the folder changed since it was written (first difference: q/0.jpg)`);
    expect(stale.cache?.complete).toBe(false);
    const fresh = await loadImageFolder(dir, { size: SIZE, ...quiet });
    expect(Array.from(await all(stale))).toEqual(Array.from(fresh.images));
    expect(stale.cache?.complete).toBe(true);
    await stale.close();

    const { size } = await stat(cache);
    await truncate(cache, size - 100);
    lines.length = 0;
    const cut = await streamImageFolder(dir, { size: SIZE, cache, log: (line) => lines.push(line) });
    expect(lines[0]).toBe(`image cache ${cache} is rebuilt: it has ${size - 100} bytes instead of ${size} (truncated)`);
    expect(Array.from(await all(cut))).toEqual(Array.from(fresh.images));
    await cut.close();
  });

  it('reads cached rows without a turn of the event loop, which a synchronous training step does not give', async () => {
    const { dir, cache, bytes } = await built('no-turn');
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, ...quiet });
    let turned = false;
    setImmediate(() => (turned = true));
    let read: Uint8Array | undefined;
    void all(dataset).then((rows) => (read = rows));
    for (let hop = 0; hop < 100 && read === undefined; hop++) await Promise.resolve(); // microtasks only
    expect(turned).toBe(false);
    expect(Array.from(read ?? [])).toEqual(bytes);
    await dataset.close();
  });

  it('never hands out a damaged row: the checksum fails and the source is decoded', async () => {
    const { dir, cache, bytes } = await built('damaged');
    const content = await readFile(cache);
    content[content.length - 5] = (content[content.length - 5]! + 1) % 256; // the last row
    await writeFile(cache, content);
    const lines: string[] = [];
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, log: (line) => lines.push(line) });
    expect(Array.from(await all(dataset))).toEqual(bytes);
    expect(lines).toContain(`image cache ${cache}: row 5 (q/2.jpg) failed its checksum; decoding the source`);
    await dataset.close();
  });

  it('refuses a cache of another size or another folder, naming the file and what was expected', async () => {
    const { dir, cache } = await built('foreign');
    await expect(streamImageFolder(dir, { size: [8, 8], cache, ...quiet })).rejects.toThrow(
      `cache ${cache} holds 6 images of 12×10×3 from ${dir}, but this dataset expects 6 images of 8×8×3 from ${dir}: ` +
        'pass another cache path (one per folder and size), or delete the file',
    );
    const elsewhere = await makeFolder('foreign-2', ['p', 'q'], 3);
    await expect(streamImageFolder(elsewhere, { size: SIZE, cache, ...quiet })).rejects.toThrow(
      `cache ${cache} holds 6 images of 12×10×3 from ${dir}, but this dataset expects 6 images of 12×10×3 from ${elsewhere}`,
    );
  });

  it('leaves no cache file when the write is interrupted before the rename (a crash), and rebuilds next time', async () => {
    const dir = await makeFolder('crash', ['p', 'q'], 2);
    const cache = join(root, 'crash.ckcache');
    const failing = { ...nodeFileSystem, rename: async () => Promise.reject(new Error('power cut')) };
    const lines: string[] = [];
    const dataset = await streamImageFolder(dir, { size: SIZE, cache, fileSystem: failing, log: (line) => lines.push(line) });
    const bytes = Array.from(await all(dataset));
    expect(lines.some((line) => line.includes('could not be finished (power cut)'))).toBe(true);
    expect(dataset.cache?.complete).toBe(false);
    expect(Array.from(await all(dataset))).toEqual(bytes); // still served, from the sources
    await dataset.close();
    expect((await readdir(root)).filter((name) => name.includes('crash.ckcache'))).toEqual([]);
    const again = await streamImageFolder(dir, { size: SIZE, cache, ...quiet });
    expect(Array.from(await all(again))).toEqual(bytes);
    expect(again.cache?.complete).toBe(true);
    await again.close();
  });
});

describe('streamImageFolder bad input mid-epoch', () => {
  it('names a file deleted after indexing, a corrupt file, and an emptied class folder', async () => {
    const dir = await makeFolder('bad', ['p', 'q'], 3);
    const dataset = await streamImageFolder(dir, { size: SIZE, ...quiet });
    await rm(join(dir, 'p', '1.png'));
    await expect(dataset.readRows([0, 1])).rejects.toThrow(
      `${join(dir, 'p', '1.png')} (row 1, class "p") must be an image file decodable to 10×12×3, but the file is missing (deleted after the folder was listed, or a dangling link)`,
    );
    await writeFile(join(dir, 'q', '0.jpg'), 'not a jpeg');
    await expect(dataset.readRows([3])).rejects.toThrow(
      `${join(dir, 'q', '0.jpg')} (row 3, class "q") must be an image file decodable to 10×12×3, but it cannot be decoded (`,
    );
    const loader = new DataLoader(dataset, { batchSize: 2, shuffle: false, prefetch: 2 });
    await expectNoLeak(async () => {
      await expect(epoch(loader)).rejects.toThrow('(row 1, class "p")');
    });
  });

  it("with onError: 'skip', replaces a failing file by the next readable one of its class and lists it", async () => {
    const dir = await makeFolder('skip', ['p', 'q'], 3);
    const memory = await loadImageFolder(dir, { size: SIZE, ...quiet });
    const lines: string[] = [];
    const dataset = await streamImageFolder(dir, { size: SIZE, onError: 'skip', log: (line) => lines.push(line) });
    await rm(join(dir, 'p', '1.png'));
    const bytes = await dataset.readRows([1, 4]);
    const pixels = SIZE[0] * SIZE[1] * 3;
    expect(Array.from(bytes.subarray(0, pixels))).toEqual(Array.from(memory.images.subarray(2 * pixels, 3 * pixels)));
    expect(dataset.skipped).toEqual([join(dir, 'p', '1.png')]);
    expect(lines.at(-1)).toContain(`streamImageFolder: skipped ${join(dir, 'p', '1.png')} (row 1, class "p")`);
    // The class folder emptied: nothing left to stand in.
    await rm(join(dir, 'p'), { recursive: true });
    await expect(dataset.readRows([0])).rejects.toThrow('class "p" has no readable file left (every one failed: ');
  });

  it('refuses a file that cannot be read (permission denied) by name, unless running as root', async () => {
    const dir = await makeFolder('locked', ['p', 'q'], 2);
    const file = join(dir, 'q', '1.png');
    await chmod(file, 0o000);
    const dataset = await streamImageFolder(dir, { size: SIZE, ...quiet });
    const canRead = await readFile(file).then(
      () => true,
      () => false,
    );
    if (canRead) expect(Array.from(await dataset.readRows([3])).length).toBe(SIZE[0] * SIZE[1] * 3);
    else await expect(dataset.readRows([3])).rejects.toThrow(`${file} (row 3, class "q") must be an image file decodable to 10×12×3, but the file cannot be read (permission denied)`);
    await chmod(file, 0o644);
  });
});
