import type { Rng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataLoader } from './data-loader.js';
import type { DataLoaderState } from './data-loader.js';
import { createImageDataset } from './dataset.js';
import type { IndexSampler } from './index-sampler.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 10 one-pixel images whose value is the row index, label row mod 3.
const N = 10;
const DATASET = createImageDataset({
  images: Uint8Array.from({ length: N }, (_, i) => i),
  labels: Array.from({ length: N }, (_, i) => i % 3),
  shape: [1, 1, 1],
});

/** One epoch (or its first `limit` batches) as rows (the pixel values) and index labels. */
async function readEpoch(loader: DataLoader, limit = Infinity): Promise<{ rows: number[][]; labels: number[][] }> {
  const rows: number[][] = [];
  const labels: number[][] = [];
  for await (const { x, y } of loader) {
    rows.push(Array.from(await x.data(), Math.round));
    labels.push(Array.from(await y.data()));
    tf.dispose([x, y]);
    if (rows.length >= limit) break;
  }
  return { rows, labels };
}

const flatLength = (size: number, batchSize: number, dropLast: boolean): number =>
  dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);

/** Every row in reverse order; records the epochs it was asked for. */
function reverseSampler(asked: number[] = []): IndexSampler {
  return {
    epochIndices: (epoch) => {
      asked.push(epoch);
      return Int32Array.from({ length: N }, (_, i) => N - 1 - i);
    },
    length: (batchSize, dropLast) => flatLength(N, batchSize, dropLast),
  };
}

/** A shuffle whose rows are shifted by a setting `offset`, saved and restored through its state. */
class OffsetSampler implements IndexSampler {
  constructor(public offset: number) {}
  epochIndices(_epoch: number, rng: Rng): Int32Array {
    return rng.permutation(N).map((row) => (row + this.offset) % N);
  }
  length(batchSize: number, dropLast: boolean): number {
    return flatLength(N, batchSize, dropLast);
  }
  getState(): { offset: number } {
    return { offset: this.offset };
  }
  setState(state: unknown): void {
    const offset = (state as { offset?: unknown } | null)?.offset;
    if (typeof offset !== 'number') throw new Error(`state must be { offset: number } (received ${JSON.stringify(state)})`);
    this.offset = offset;
  }
}

describe('IndexSampler', () => {
  it("serves a sampler's flat order cut into batchSize batches, with each row's label", async () => {
    await expectNoLeak(async () => {
      const asked: number[] = [];
      const loader = new DataLoader(DATASET, { batchSize: 4, scale: 1, labels: 'index', sampler: reverseSampler(asked) });
      expect(loader.length).toBe(3);
      const first = await readEpoch(loader);
      expect(first.rows).toEqual([[9, 8, 7, 6], [5, 4, 3, 2], [1, 0]]);
      expect(first.labels).toEqual(first.rows.map((batch) => batch.map((row) => row % 3)));
      await readEpoch(loader);
      expect(asked).toEqual([0, 1]);
      const dropping = new DataLoader(DATASET, { batchSize: 4, scale: 1, dropLast: true, sampler: reverseSampler() });
      expect(dropping.length).toBe(2);
      expect((await readEpoch(dropping)).rows).toEqual([[9, 8, 7, 6], [5, 4, 3, 2]]);
    });
  });

  it("draws from the loader's seeded generator: a permutation sampler equals the default shuffle", async () => {
    await expectNoLeak(async () => {
      const permutation: IndexSampler = {
        epochIndices: (_epoch, rng) => rng.permutation(N),
        length: (batchSize, dropLast) => flatLength(N, batchSize, dropLast),
      };
      // A transform that uses its generator: the per-batch seeds must match too.
      const transform = (x: tf.Tensor4D, rng: Rng): tf.Tensor4D => tf.add(x, rng.int(0, 100) * 16) as tf.Tensor4D;
      const sampled = new DataLoader(DATASET, { batchSize: 3, seed: 7, scale: 1, transform, sampler: permutation });
      const plain = new DataLoader(DATASET, { batchSize: 3, seed: 7, scale: 1, transform });
      for (let epoch = 0; epoch < 3; epoch++) {
        const rows = (await readEpoch(sampled)).rows;
        expect(rows).toEqual((await readEpoch(plain)).rows);
        expect(rows.flat().map((value) => value % 16).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }
    });
  });

  it('serves ready-made batches as given, whatever their sizes', async () => {
    await expectNoLeak(async () => {
      const batches: IndexSampler = {
        epochIndices: () => [Int32Array.of(0, 0, 5), Int32Array.of(9), Int32Array.of(3, 4, 2, 1)],
        length: () => 3,
      };
      const loader = new DataLoader(DATASET, { batchSize: 3, scale: 1, labels: 'index', sampler: batches });
      expect(loader.length).toBe(3);
      const { rows, labels } = await readEpoch(loader);
      expect(rows).toEqual([[0, 0, 5], [9], [3, 4, 2, 1]]);
      expect(labels).toEqual([[0, 0, 2], [0], [0, 1, 2, 1]]);
    });
  });

  it("resumes mid-epoch with the sampler's state of that epoch, whatever changed it since", async () => {
    await expectNoLeak(async () => {
      const options = { batchSize: 3, seed: 2, scale: 1, prefetch: 1 };
      const original = new OffsetSampler(1);
      const loader = new DataLoader(DATASET, { ...options, sampler: original });
      expect(loader.getState().sampler).toEqual({ offset: 1 }); // between epochs: the sampler's current state
      await readEpoch(loader); // epoch 0
      const iterator = loader[Symbol.asyncIterator](); // epoch 1: two batches, save, change the setting, finish
      const head: number[][] = [];
      for (let b = 0; b < 2; b++) {
        const { value } = await iterator.next();
        head.push(Array.from(await value!.x.data()));
        tf.dispose([value!.x, value!.y]);
      }
      const state: DataLoaderState = JSON.parse(JSON.stringify(loader.getState()));
      original.offset = 5; // after the epoch started: neither the epoch nor its saved state changes
      expect(loader.getState().sampler).toEqual({ offset: 1 });
      const tail: number[][] = [];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
        tail.push(Array.from(await r.value.x.data()));
        tf.dispose([r.value.x, r.value.y]);
      }
      expect(state).toMatchObject({ epoch: 1, position: 2, sampler: { offset: 1 } });
      expect(loader.getState().sampler).toEqual({ offset: 5 }); // the next epoch reads the new setting

      const restored = new OffsetSampler(3);
      const resumed = new DataLoader(DATASET, { ...options, sampler: restored });
      resumed.setState(state);
      expect(restored.offset).toBe(1); // applied at once
      expect(resumed.getState()).toEqual(state);
      restored.offset = 8; // e.g. a scheduler before the epoch starts: the saved state wins for this epoch
      const rest = await readEpoch(resumed);
      expect(rest.rows).toEqual(tail);
      expect(restored.offset).toBe(1);
      expect([...head, ...rest.rows].flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // The following epoch is the original's with the same setting.
      restored.offset = 5;
      expect((await readEpoch(resumed)).rows).toEqual((await readEpoch(loader)).rows);
    });
  });

  it('rejects bad samplers, sampler results and sampler states, naming the value', async () => {
    const fixed = (result: Int32Array | Int32Array[], length = 2): IndexSampler => ({ epochIndices: () => result, length: () => length });
    expect(() => new DataLoader(DATASET, { batchSize: 2, sampler: {} as IndexSampler })).toThrow(
      'sampler must be an IndexSampler { epochIndices(epoch, rng), length(batchSize, dropLast) } (received an Object)',
    );
    expect(() => new DataLoader(DATASET, { batchSize: 2, shuffle: false, sampler: reverseSampler() })).toThrow(
      'shuffle must be left unset when a sampler chooses the order (received false)',
    );
    expect(() => new DataLoader(DATASET, { batchSize: 11, dropLast: true, sampler: reverseSampler() })).toThrow(
      "batchSize must be at most the sampler's epoch size when dropLast is true (received 11)",
    );
    expect(() => new DataLoader(DATASET, { batchSize: 2, sampler: fixed([], 1.5) })).toThrow(
      'sampler.length(2, false) must return a positive integer (received 1.5)',
    );
    const failures: [Int32Array | Int32Array[], string][] = [
      [[Int32Array.of(1)], 'sampler.epochIndices must return 2 batches, as its length() says (received 1)'],
      [[Int32Array.of(1), Int32Array.of()], 'sampler.epochIndices batch 1 must be a non-empty Int32Array (received an Int32Array of 0)'],
      [Int32Array.of(1, 2, 3, 4, 5), 'must return an order of 2 batches of 2, as its length() says (received 5 rows)'],
      [Int32Array.of(1, 2, 10), 'sampler.epochIndices chose row 10, outside the dataset of 10 rows'],
      [Float32Array.of(1, 2) as unknown as Int32Array, 'sampler.epochIndices must return an Int32Array or an array of them (received a Float32Array of 2)'],
      [[Int32Array.of(1), [2] as unknown as Int32Array], 'sampler.epochIndices batch 1 must be a non-empty Int32Array (received an array of 1)'],
    ];
    await expectNoLeak(async () => {
      for (const [result, message] of failures) {
        const loader = new DataLoader(DATASET, { batchSize: 2, sampler: fixed(result) });
        await expect(readEpoch(loader)).rejects.toThrow(message);
      }
    });
    const plain = new DataLoader(DATASET, { batchSize: 2 });
    const stateless = new DataLoader(DATASET, { batchSize: 2, sampler: reverseSampler() });
    for (const loader of [plain, stateless]) {
      expect(() => loader.setState({ ...loader.getState(), sampler: { offset: 1 } })).toThrow(
        'state.sampler must be undefined for a loader whose sampler has no setState (received {"offset":1})',
      );
    }
    const offset = new OffsetSampler(4);
    const loader = new DataLoader(DATASET, { batchSize: 2, sampler: offset });
    const before = loader.getState();
    expect(() => loader.setState({ ...before, epoch: 3, sampler: { shift: 1 } })).toThrow('state must be { offset: number } (received {"shift":1})');
    expect(loader.getState()).toEqual(before);
    expect(offset.offset).toBe(4);
  });
});
