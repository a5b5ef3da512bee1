import * as tf from '@tensorflow/tfjs';
import { createRng } from '@convkit/core';
import { expectNoLeak } from '@convkit/core/testing';
import { createImageDataset, DataLoader } from '@convkit/data';
import type { DataLoaderOptions, DataLoaderState, IndexSampler } from '@convkit/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedBatchSampler } from './balanced-batch-sampler.js';
import { ResamplingSampler } from './resampling.js';
import type { Sampler } from './sampler.js';
import { WeightedRandomSampler } from './weighted-random-sampler.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 100 one-pixel images whose value is the row index, labels in E1.3's 43/37/13/7 split.
const LABELS = [43, 37, 13, 7].flatMap((count, c) => Array<number>(count).fill(c));
const DATASET = createImageDataset({ images: Uint8Array.from(LABELS, (_, row) => row), labels: LABELS, shape: [1, 1, 1] });

/** Reads an epoch as rows (from the pixel values) and labels, disposing every batch. */
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

describe('Sampler (as a DataLoader sampler)', () => {
  it("serves a sampler's batches as tensors with matching labels, epoch 0 being its own draw, without leaks", async () => {
    await expectNoLeak(async () => {
      const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 8, numBatches: 6 });
      const loader = new DataLoader(DATASET, { batchSize: 8, sampler, labels: 'index', scale: 1, seed: 1 });
      expect(loader.length).toBe(6);
      const { rows, labels } = await readEpoch(loader);
      expect(rows.length).toBe(6);
      for (const [b, batch] of rows.entries()) {
        expect(labels[b]).toEqual(batch.map((row) => LABELS[row]));
        expect([...labels[b]!].sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
      }
      // Epoch 0 equals the sampler's own draw from the generator seeded with the loader's seed.
      const expected = sampler.epochIndices(0, createRng(1)).map((batch) => Array.from(batch));
      expect(rows).toEqual(expected);
      expect(loader.epoch).toBe(1);
    });
  });

  it('cuts a flat order into batches, one-hot labels by default, deterministic by seed, with dropLast', async () => {
    await expectNoLeak(async () => {
      const make = (seed: number): DataLoader =>
        new DataLoader(DATASET, { sampler: new ResamplingSampler({ labels: LABELS, mode: 'under' }), batchSize: 8, seed, scale: 1 });
      const loader = make(2);
      expect(loader.length).toBe(4); // 28 rows
      const first = await readEpoch(loader);
      expect(first.rows.map((batch) => batch.length)).toEqual([8, 8, 8, 4]);
      expect(first.labels[3]!.length).toBe(16); // 4 rows × 4 classes one-hot
      for (const [b, batch] of first.rows.entries()) {
        const oneHot = batch.flatMap((row) => [0, 1, 2, 3].map((c) => (c === LABELS[row] ? 1 : 0)));
        expect(first.labels[b]).toEqual(oneHot);
      }
      expect(first.rows.flat().map((row) => LABELS[row]).filter((label) => label === 3).length).toBe(7);
      const second = await readEpoch(loader);
      expect(second.rows).not.toEqual(first.rows); // a fresh draw each epoch
      expect((await readEpoch(make(2))).rows).toEqual(first.rows);
      const dropped = new DataLoader(DATASET, {
        sampler: new ResamplingSampler({ labels: LABELS, mode: 'under' }),
        batchSize: 8,
        dropLast: true,
      });
      expect(dropped.length).toBe(3);
      expect((await readEpoch(dropped)).rows.map((batch) => batch.length)).toEqual([8, 8, 8]);
    });
  });

  it('resumes mid-epoch from getState, with the balance of that epoch', async () => {
    await expectNoLeak(async () => {
      const make = (): { loader: DataLoader; sampler: BalancedBatchSampler } => {
        const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 10, numBatches: 5, balance: 0.5 });
        return { sampler, loader: new DataLoader(DATASET, { batchSize: 10, sampler, seed: 4, scale: 1, prefetch: 1 }) };
      };
      const original = make();
      await readEpoch(original.loader); // epoch 0
      const full = await readEpoch(original.loader); // epoch 1, the reference
      const run = make();
      await readEpoch(run.loader);
      const iterator = run.loader[Symbol.asyncIterator](); // epoch 1: take two batches, save, stop
      for (let b = 0; b < 2; b++) {
        const { value } = await iterator.next();
        tf.dispose([value!.x, value!.y]);
      }
      run.sampler.balance = 0; // changed after the epoch started: does not affect the saved epoch
      const state: DataLoaderState = JSON.parse(JSON.stringify(run.loader.getState()));
      await iterator.return!();
      expect(state).toMatchObject({ epoch: 1, position: 2, sampler: { balance: 0.5 } });
      const resumed = make();
      resumed.sampler.balance = 1;
      resumed.loader.setState(state);
      expect(resumed.sampler.balance).toBe(0.5);
      resumed.sampler.balance = 0.9; // e.g. a scheduler before the resumed epoch starts: the saved balance wins
      const rest = await readEpoch(resumed.loader);
      expect(rest.rows).toEqual(full.rows.slice(2));
      expect(resumed.sampler.balance).toBe(0.5);
      expect(() => resumed.loader.setState({ ...state, position: 5 })).toThrow('state.position must be an integer in [0, 5) (received 5)');
      expect(() => resumed.loader.setState({ ...state, sampler: { balance: 2 } })).toThrow('balance must be a number in [0, 1] (received 2)');
    });
  });

  it('saves and restores the balance of BalancedBatchSampler and WeightedRandomSampler as { balance }', () => {
    const samplers: Sampler[] = [
      new BalancedBatchSampler({ labels: LABELS, batchSize: 8, balance: 0.25 }),
      new WeightedRandomSampler({ labels: LABELS, balance: 0.25 }),
    ];
    for (const sampler of samplers) {
      expect(sampler.getState?.()).toEqual({ balance: 0.25 });
      sampler.setState?.({ balance: 0.75 });
      expect(sampler.balance).toBe(0.75);
      const sameDraw = (): number[] => {
        const drawn = sampler.epochIndices(0, createRng(3));
        return (Array.isArray(drawn) ? drawn : [drawn]).flatMap((batch) => Array.from(batch));
      };
      const atThreeQuarters = sameDraw();
      sampler.balance = 0;
      sampler.setState?.(JSON.parse(JSON.stringify({ balance: 0.75 })));
      expect(sameDraw()).toEqual(atThreeQuarters);
      expect(() => sampler.setState?.({ mix: 1 })).toThrow('state must be { balance: number } (received {"mix":1})');
      expect(() => sampler.setState?.({ balance: -1 })).toThrow('balance must be a number in [0, 1] (received -1)');
      expect(sampler.balance).toBe(0.75);
    }
    expect((new ResamplingSampler({ labels: LABELS, mode: 'over' }) as IndexSampler).getState).toBeUndefined();
  });

  it('refuses bad options, naming the value', () => {
    const flat = new WeightedRandomSampler({ labels: LABELS });
    expect(() => new DataLoader(DATASET, { sampler: flat } as unknown as DataLoaderOptions)).toThrow(
      'batchSize must be a positive integer (received undefined)',
    );
    expect(() => new DataLoader(DATASET, { sampler: flat, batchSize: 0 })).toThrow('batchSize must be a positive integer (received 0)');
    expect(() => new DataLoader(DATASET, { sampler: {} as WeightedRandomSampler, batchSize: 2 })).toThrow('sampler must be an IndexSampler');
    const balanced = new BalancedBatchSampler({ labels: LABELS, batchSize: 8 });
    expect(() => new DataLoader(DATASET, { sampler: balanced, batchSize: 16 })).toThrow(
      "batchSize must equal the BalancedBatchSampler's batchSize 8 (received 16)",
    );
    expect(() => new DataLoader(DATASET, { sampler: flat, batchSize: 200, dropLast: true })).toThrow(
      "batchSize must be at most the sampler's epoch size when dropLast is true (received 200)",
    );
  });
});
