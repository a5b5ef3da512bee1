import type { Rng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageBatch } from './batch-encoder.js';
import { DataLoader } from './data-loader.js';
import type { DataLoaderOptions } from './data-loader.js';
import { createImageDataset } from './dataset.js';
import type { ImageDataset } from './dataset.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** `n` 1×2×1 images; image i stores i in its two bytes (low, high) and has label i mod 3. */
function traceable(n: number): ImageDataset {
  const images = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    images[2 * i] = i & 0xff;
    images[2 * i + 1] = i >> 8;
  }
  return createImageDataset({ images, labels: Array.from({ length: n }, (_, i) => i % 3), shape: [1, 2, 1] });
}

interface Seen {
  rows: number[];
  labels: number[];
  values: number[];
}

/** Reads a batch (made with scale 1, so x holds the raw bytes) back into rows, then disposes it. */
async function read(batch: ImageBatch): Promise<Seen> {
  const values = Array.from(await batch.x.data());
  const y = await batch.y.array();
  tf.dispose([batch.x, batch.y]);
  const rows: number[] = [];
  for (let i = 0; i < values.length; i += 2) rows.push(Math.round(values[i] as number) + 256 * Math.round(values[i + 1] as number));
  const labels = (y as number[] | number[][]).map((row) => (Array.isArray(row) ? row.indexOf(1) : row));
  return { rows, labels, values };
}

/** One epoch (or its first `limit` batches), read into plain values. */
async function epoch(loader: DataLoader, limit = Infinity): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const batch of loader) {
    seen.push(await read(batch));
    if (seen.length >= limit) break;
  }
  return seen;
}

const flat = (seen: Seen[]): number[] => seen.flatMap((s) => s.rows);

describe('DataLoader', () => {
  const ds = traceable(10);

  it('yields length batches of [B, H, W, C] float32 and one-hot labels, the last one smaller', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(ds, { batchSize: 4, scale: 1 });
      expect(loader.length).toBe(3);
      const shapes: number[][] = [];
      for await (const { x, y } of loader) {
        shapes.push([...x.shape, ...y.shape]);
        expect(x.dtype).toBe('float32');
        expect(y.dtype).toBe('float32');
        tf.dispose([x, y]);
      }
      expect(shapes).toEqual([[4, 1, 2, 1, 4, 3], [4, 1, 2, 1, 4, 3], [2, 1, 2, 1, 2, 3]]);
      const dropping = new DataLoader(ds, { batchSize: 4, dropLast: true, scale: 1 });
      expect(dropping.length).toBe(2);
      const seen = await epoch(dropping);
      expect(seen.map((s) => s.rows.length)).toEqual([4, 4]);
    });
  });

  it('visits every image exactly once per epoch, with its own label', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(traceable(300), { batchSize: 32, scale: 1, labels: 'index' });
      for (let e = 0; e < 2; e++) {
        const seen = await epoch(loader);
        const rows = flat(seen);
        expect([...rows].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
        seen.forEach((s) => s.rows.forEach((row, i) => expect(s.labels[i]).toBe(row % 3)));
      }
    });
  });

  it('draws a fresh order each epoch, the same across runs with the same seed', async () => {
    await expectNoLeak(async () => {
      const options: DataLoaderOptions = { batchSize: 16, seed: 7, scale: 1 };
      const first = new DataLoader(traceable(100), options);
      const second = new DataLoader(traceable(100), options);
      const orders = [await epoch(first), await epoch(first), await epoch(first)].map(flat);
      const again = [await epoch(second), await epoch(second), await epoch(second)].map(flat);
      expect(again).toEqual(orders);
      expect(orders[0]).not.toEqual(orders[1]);
      expect(orders[1]).not.toEqual(orders[2]);
      const other = flat(await epoch(new DataLoader(traceable(100), { ...options, seed: 8 })));
      expect(other).not.toEqual(orders[0]);
      const ordered = new DataLoader(traceable(100), { ...options, shuffle: false });
      for (let e = 0; e < 2; e++) expect(flat(await epoch(ordered))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    });
  });

  it('resumes from a state taken after k batches with exactly the batches the original yields next', async () => {
    await expectNoLeak(async () => {
      // A transform that uses its generator, so resuming must also reproduce the augmentation draws.
      const transform = (x: tf.Tensor4D, rng: Rng): tf.Tensor4D => tf.add(x, rng.uniform(0, 1000)) as tf.Tensor4D;
      const options: DataLoaderOptions = { batchSize: 6, seed: 3, scale: 1, transform, labels: 'index' };
      const original = new DataLoader(traceable(40), options);
      await epoch(original);
      const iterator = original[Symbol.asyncIterator]();
      for (let k = 0; k < 3; k++) await read((await iterator.next()).value as ImageBatch);
      const state = JSON.parse(JSON.stringify(original.getState()));
      expect(state.epoch).toBe(1);
      expect(state.position).toBe(3);
      const rest: Seen[] = [];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(await read(r.value));
      expect(original.getState().epoch).toBe(2);
      expect(original.getState().position).toBe(0);
      const following = await epoch(original);

      const restored = new DataLoader(traceable(40), options);
      restored.setState(state);
      expect(restored.epoch).toBe(1);
      const resumedRest = await epoch(restored);
      expect(resumedRest.map((s) => s.values)).toEqual(rest.map((s) => s.values));
      expect(resumedRest.map((s) => s.labels)).toEqual(rest.map((s) => s.labels));
      expect(resumedRest).toHaveLength(7 - 3);
      const resumedFollowing = await epoch(restored);
      expect(resumedFollowing.map((s) => s.values)).toEqual(following.map((s) => s.values));
    });
  });

  it('disposes prefetched batches when a for-await loop breaks early', async () => {
    const loader = new DataLoader(traceable(200), { batchSize: 8, prefetch: 4 });
    const before = tf.memory().numTensors;
    for await (const { x, y } of loader) {
      await new Promise((resolve) => setImmediate(resolve)); // let the prefetch run
      expect(tf.memory().numTensors).toBe(before + 2 * 5); // this batch and four ahead
      tf.dispose([x, y]);
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
    // The abandoned epoch counts as done: the next one starts fresh and is complete.
    expect(loader.epoch).toBe(1);
    await expectNoLeak(async () => expect(flat(await epoch(loader))).toHaveLength(200));
  });

  it('builds up to prefetch batches ahead while the consumer holds one', async () => {
    const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    for (const prefetch of [0, 1, 3]) {
      const built: number[] = [];
      const transform = (x: tf.Tensor4D): tf.Tensor4D => {
        built.push(x.shape[0]);
        return x;
      };
      await expectNoLeak(async () => {
        const loader = new DataLoader(ds, { batchSize: 2, prefetch, transform });
        const iterator = loader[Symbol.asyncIterator]();
        await read((await iterator.next()).value as ImageBatch);
        await tick();
        expect(built).toHaveLength(1 + prefetch);
        await iterator.return?.();
      });
    }
  });

  it("reads a file-backed dataset's rows one batch ahead of the builds, each batch once, the same batches", async () => {
    const inMemory = traceable(50);
    const reads: number[][] = [];
    let failFrom = Infinity;
    // A file-backed dataset (no `images`): its rows come from readRows only.
    const fileBacked = {
      labels: inMemory.labels,
      shape: inMemory.shape,
      numClasses: inMemory.numClasses,
      classNames: inMemory.classNames,
      length: inMemory.length,
      source: 'test files',
      readRows: async (rows: ArrayLike<number>): Promise<Uint8Array> => {
        reads.push(Array.from(rows));
        if (reads.length >= failFrom) throw new Error('disk gone');
        await new Promise((resolve) => setImmediate(resolve));
        return inMemory.readRows(rows);
      },
    };
    const options = { batchSize: 8, seed: 3, scale: 1 };
    const expected = await epoch(new DataLoader(inMemory, { ...options, prefetch: 2 }));
    await expectNoLeak(async () => {
      const loader = new DataLoader(fileBacked, { ...options, prefetch: 2 });
      const iterator = loader[Symbol.asyncIterator]();
      const first = await read((await iterator.next()).value as ImageBatch);
      expect(reads).toHaveLength(2); // batch 0's rows, and batch 1's read ahead
      await new Promise((resolve) => setImmediate(resolve));
      // The builds of batches 1 and 2 (prefetch 2) started, and batch 3's rows are read ahead of its build.
      expect(reads).toHaveLength(4);
      const got = [first];
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) got.push(await read(next.value));
      expect(got).toEqual(expected);
      expect(reads.map((rows) => rows.join())).toEqual(expected.map((batch) => batch.rows.join()));
    });
    // Without prefetch nothing is read ahead.
    reads.length = 0;
    const plain = await epoch(new DataLoader(fileBacked, { ...options, prefetch: 0 }), 1);
    expect(plain).toEqual(expected.slice(0, 1));
    expect(reads).toHaveLength(1);
    // A read ahead that fails for a batch never built (the loop broke) is not reported; one that is built rejects.
    reads.length = 0;
    failFrom = 4;
    await expectNoLeak(async () => expect(await epoch(new DataLoader(fileBacked, { ...options, prefetch: 2 }), 1)).toHaveLength(1));
    reads.length = 0;
    failFrom = 3;
    await expect(epoch(new DataLoader(fileBacked, { ...options, prefetch: 2 }))).rejects.toThrow('disk gone');
  });

  it('closes an open epoch when a new one starts', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(ds, { batchSize: 3 });
      const old = loader[Symbol.asyncIterator]();
      await read((await old.next()).value as ImageBatch);
      const fresh = loader[Symbol.asyncIterator]();
      expect(loader.epoch).toBe(1);
      expect((await old.next()).done).toBe(true);
      let count = 0;
      for (let r = await fresh.next(); !r.done; r = await fresh.next()) count += (await read(r.value)).rows.length;
      expect(count).toBe(10);
    });
  });

  it('applies mean and std per channel, and toTensors encodes the whole dataset alike', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(ds, { batchSize: 10, shuffle: false, scale: 0.5, mean: [1], std: [4] });
      const [seen] = await epoch(loader);
      const expected = Array.from(ds.images, (byte) => (byte * 0.5 - 1) / 4);
      seen?.values.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
      const { x, y } = loader.toTensors();
      Array.from(await x.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
      expect(y.shape).toEqual([10, 3]);
      tf.dispose([x, y]);
    });
  });

  it('propagates a failing transform without leaking', async () => {
    await expectNoLeak(async () => {
      const failing = new DataLoader(ds, {
        batchSize: 4,
        transform: (x) => {
          if (x.shape[0] < 4) throw new Error('boom');
          return tf.mul(x, 2) as tf.Tensor4D;
        },
      });
      await expect(epoch(failing)).rejects.toThrow('boom');
      const wrong = new DataLoader(ds, { batchSize: 4, transform: (x) => tf.reshape(x, [2, -1, 2, 1]) as tf.Tensor4D });
      await expect(epoch(wrong)).rejects.toThrow('transform must return a 4-D tensor of batch size 4 (received shape [2, 2, 2, 1])');
    });
  });

  it('rejects bad options and states with the values received', () => {
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow('batchSize must be a positive integer (received 0)');
    expect(() => new DataLoader(ds, { batchSize: 2.5 })).toThrow('batchSize must be a positive integer (received 2.5)');
    expect(() => new DataLoader(ds, { batchSize: 2, prefetch: -1 })).toThrow('prefetch must be a non-negative integer (received -1)');
    expect(() => new DataLoader(ds, { batchSize: 2, mean: [0, 0, 0] })).toThrow('mean must have one entry per channel (1)');
    expect(() => new DataLoader(ds, { batchSize: 20, dropLast: true })).toThrow(
      'batchSize must be at most the dataset size 10 when dropLast is true (received 20)',
    );
    const empty = createImageDataset({ images: new Uint8Array(0), labels: [], shape: [1, 2, 1], source: 'here' });
    expect(() => new DataLoader(empty, { batchSize: 2 })).toThrow('dataset must not be empty (received a dataset of 0 images from here)');
    const loader = new DataLoader(ds, { batchSize: 4 });
    const state = loader.getState();
    expect(() => loader.setState({ ...state, position: 3 })).toThrow('state.position must be an integer in [0, 3) (received 3)');
    expect(() => loader.setState({ ...state, epoch: -1 })).toThrow('state.epoch must be a non-negative integer (received -1)');
    expect(() => loader.setState({ ...state, rng: {} as typeof state.rng })).toThrow('state.rng must be a generator state');
  });
});
