// Pseudolabeling on file-backed datasets: an image folder read per batch (`streamImageFolder`) must give exactly what
// the same folder loaded into memory (`loadImageFolder`) gives, reading no more than one batch of rows at a time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import {
  DataLoader,
  isInMemory,
  loadImageFolder,
  streamImageFolder,
  writeImageFolder,
  type Dataset,
  type ImageDataset,
  type StreamingImageDataset,
} from '@convkit/data';
import { Learner } from '@convkit/learner';
import {
  mixLabeled,
  predictProbabilities,
  pseudoDataset,
  pseudoLabel,
  pseudoLabelPlugin,
  pseudoLabelRounds,
  type PseudoLabels,
} from '@convkit/pseudolabel';
import { verticalFlip, withTTA } from '@convkit/tta';
import { halvesDataset, linearModel, trainOn } from './halves.fixture.js';

await tf.setBackend('cpu');

const quiet = { size: [4, 4] as const, channels: 1 as const, log: false as const };
let root: string;
/** The same PNG folders, loaded into memory and opened as streaming datasets. */
const memory: Record<'labeled' | 'pool', ImageDataset> = {} as never;
const streaming: Record<'labeled' | 'pool', StreamingImageDataset> = {} as never;
let model: tf.LayersModel;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convkit-pseudolabel-'));
  for (const [name, dataset] of [['labeled', halvesDataset(16, 1)], ['pool', halvesDataset(60, 2)]] as const) {
    await writeImageFolder(dataset, join(root, name));
    memory[name] = await loadImageFolder(join(root, name), quiet);
    streaming[name] = await streamImageFolder(join(root, name), quiet);
  }
  model = linearModel(3);
  await trainOn(model, memory.labeled, 4, 1);
});

afterAll(async () => {
  model.dispose();
  await Promise.all(Object.values(streaming).map((dataset) => dataset.close()));
  await rm(root, { recursive: true, force: true });
});

/** A dataset that reads through `dataset` and records every `readRows` call and the rows being read at once. */
function spied(dataset: Dataset): Dataset & { calls: number[]; maxInFlight: number } {
  let inFlight = 0;
  const spy = {
    labels: dataset.labels,
    shape: dataset.shape,
    numClasses: dataset.numClasses,
    classNames: dataset.classNames,
    length: dataset.length,
    source: dataset.source,
    calls: [] as number[],
    maxInFlight: 0,
    async readRows(rows: ArrayLike<number>): Promise<Uint8Array> {
      spy.calls.push(rows.length);
      inFlight += rows.length;
      spy.maxInFlight = Math.max(spy.maxInFlight, inFlight);
      try {
        return await dataset.readRows(rows);
      } finally {
        inFlight -= rows.length;
      }
    },
  };
  return spy;
}

/** Every batch of one epoch of `loader` as raw float32 bytes of x and the labels, disposing the tensors. */
async function epochBytes(loader: DataLoader): Promise<{ x: Uint8Array; y: number[] }[]> {
  const batches: { x: Uint8Array; y: number[] }[] = [];
  for await (const { x, y } of loader) {
    batches.push({ x: new Uint8Array((await x.data()).slice().buffer), y: Array.from(await y.data()) });
    tf.dispose([x, y]);
  }
  return batches;
}

const bits = (values: Float32Array): Uint8Array => new Uint8Array(values.slice().buffer);

describe('predictProbabilities and pseudoLabel on a streaming dataset', () => {
  it('give bit-identical probabilities, pseudo-labels and confidences to the in-memory dataset of the same folder', async () => {
    const ensemble = [model, (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => model.predict(x) as tf.Tensor).mul(0.5)];
    const [fromMemory, fromStream, labelsMemory, labelsStream] = await expectNoLeak(async () => [
      await predictProbabilities(ensemble, memory.pool, { batchSize: 7 }),
      await predictProbabilities(ensemble, streaming.pool, { batchSize: 7 }),
      await pseudoLabel(model, memory.pool, { threshold: 0.7, batchSize: 8, trueLabels: memory.pool.labels }),
      await pseudoLabel(model, streaming.pool, { threshold: 0.7, batchSize: 8, trueLabels: streaming.pool.labels }),
    ]);
    const probabilitiesMemory = fromMemory as Awaited<ReturnType<typeof predictProbabilities>>;
    const probabilitiesStream = fromStream as typeof probabilitiesMemory;
    expect(probabilitiesStream.length).toBe(60);
    expect(bits(probabilitiesStream.values)).toEqual(bits(probabilitiesMemory.values));
    const [a, b] = [labelsMemory as PseudoLabels, labelsStream as PseudoLabels];
    expect(a.summary.kept).toBeGreaterThan(10); // a real selection, not an empty one
    expect(a.summary.kept).toBeLessThan(60);
    expect([...b.indices]).toEqual([...a.indices]);
    expect([...b.labels]).toEqual([...a.labels]);
    expect(bits(b.confidences)).toEqual(bits(a.confidences));
    expect(b.summary).toEqual(a.summary);
  });

  it('with test-time augmentation (@convkit/tta) as predict, gives bit-identical pseudo-labels for both kinds', async () => {
    const tta = withTTA(model, [verticalFlip()], { merge: 'mean' }); // the classes are left/right halves
    const options = { threshold: 0.7, batchSize: 16, predict: (_: unknown, x: tf.Tensor4D) => tta.predict(x) };
    const [a, b] = await expectNoLeak(async () => [
      await pseudoLabel(model, memory.pool, options),
      await pseudoLabel(model, streaming.pool, options),
    ]);
    expect(a!.summary.kept).toBeGreaterThan(10);
    expect([...b!.indices]).toEqual([...a!.indices]);
    expect([...b!.labels]).toEqual([...a!.labels]);
    expect(bits(b!.confidences)).toEqual(bits(a!.confidences));
  });

  it('reads the pool in order, one readRows call of at most batchSize rows per batch, at most two batches at once', async () => {
    const pool = spied(streaming.pool);
    const result = await expectNoLeak(() => predictProbabilities(model, pool, { batchSize: 8 }));
    expect(pool.calls).toEqual([8, 8, 8, 8, 8, 8, 8, 4]); // 60 rows, each read once
    expect(pool.maxInFlight).toBeLessThanOrEqual(16);
    const reference = await predictProbabilities(model, memory.pool, { batchSize: 60 });
    expect(bits(result.values)).toEqual(bits(reference.values));
  });

  it('disposes the batches it read ahead when a model fails mid-pool', async () => {
    let calls = 0;
    const failing = (x: tf.Tensor4D): tf.Tensor => {
      if (++calls === 3) throw new Error('model failed on batch 3');
      return tf.tidy(() => model.predict(x) as tf.Tensor);
    };
    await expectNoLeak(() =>
      expect(predictProbabilities(failing, streaming.pool, { batchSize: 8 })).rejects.toThrow('model failed on batch 3')
    );
  });
});

describe('pseudoDataset on a streaming dataset', () => {
  it('is a view with the pseudo-labels that reads the kept rows of the pool when asked', async () => {
    const pseudo = await pseudoLabel(model, streaming.pool, { threshold: 0.7 });
    const pool = spied(streaming.pool);
    const view = pseudoDataset(pool, pseudo);
    expect(isInMemory(view)).toBe(false);
    expect(pool.calls).toEqual([]); // nothing read yet
    expect(view.length).toBe(pseudo.indices.length);
    expect([...view.labels]).toEqual([...pseudo.labels]);
    expect(view.classNames).toEqual(['left', 'right']);
    const direct = pseudoDataset(streaming.pool, pseudo) as Dataset & { files?: readonly string[] };
    expect(direct.files).toEqual(Array.from(pseudo.indices, (row) => streaming.pool.files[row])); // for error messages
    const copy = pseudoDataset(memory.pool, pseudo);
    expect(await view.readRows([2, 0, 2])).toEqual(await copy.readRows([2, 0, 2]));
    expect(pool.calls).toEqual([3]);
    await expect(view.readRows([view.length])).rejects.toThrow(`rows[0] must be an integer in [0, ${view.length}) (received ${view.length})`);
    const bad = { ...pseudo, indices: Int32Array.of(0, 60) };
    expect(() => pseudoDataset(streaming.pool, bad)).toThrow('pseudo.indices[1] must be a row of unlabeled, in [0, 60) (received 60)');
  });
});

describe('mixLabeled with streaming datasets', () => {
  it('gives the same rows, labels and bit-identical DataLoader batches as the in-memory mix, for the same seed', async () => {
    const pseudo = await pseudoLabel(model, memory.pool, { threshold: 0.7 });
    const options = { ratio: [1, 2] as const, seed: 5 };
    const inMemory = mixLabeled(memory.labeled, pseudoDataset(memory.pool, pseudo), options);
    const streamed = mixLabeled(streaming.labeled, pseudoDataset(streaming.pool, pseudo), options);
    const mixedKinds = mixLabeled(memory.labeled, pseudoDataset(streaming.pool, pseudo), options);
    expect(isInMemory(inMemory.dataset)).toBe(true);
    expect(isInMemory(streamed.dataset)).toBe(false);
    for (const mix of [streamed, mixedKinds]) {
      expect(mix.pseudoCount).toBe(Math.min(32, pseudo.indices.length));
      expect([...mix.pseudoRows]).toEqual([...inMemory.pseudoRows]);
      expect([...mix.dataset.labels]).toEqual([...inMemory.dataset.labels]);
      expect(mix.dataset.length).toBe(16 + mix.pseudoCount);
    }
    // Against the images themselves: mixed row 16 + j is pool row pseudo.indices[pseudoRows[j]], labeled by the model.
    const j = streamed.pseudoCount - 1;
    const poolRow = pseudo.indices[streamed.pseudoRows[j]!]!;
    expect(await streamed.dataset.readRows([16 + j, 3])).toEqual(Uint8Array.from([
      ...memory.pool.images.subarray(poolRow * 16, poolRow * 16 + 16),
      ...memory.labeled.images.subarray(3 * 16, 4 * 16),
    ]));
    expect(streamed.dataset.labels[16 + j]).toBe(pseudo.labels[streamed.pseudoRows[j]!]);

    const loaderOptions = { batchSize: 8, seed: 9, labels: 'index' as const };
    const reference = await epochBytes(new DataLoader(inMemory.dataset, loaderOptions));
    expect(reference.length).toBe(Math.ceil(inMemory.dataset.length / 8));
    expect(await expectNoLeak(() => epochBytes(new DataLoader(streamed.dataset, loaderOptions)))).toEqual(reference);
    expect(await epochBytes(new DataLoader(mixedKinds.dataset, loaderOptions))).toEqual(reference);
  });

  it('reads each batch with at most batchSize rows from each input, never the whole set', async () => {
    const pseudo = await pseudoLabel(model, streaming.pool, { threshold: 0.7 });
    const labeled = spied(streaming.labeled);
    const pool = spied(streaming.pool);
    const mixed = mixLabeled(labeled, pseudoDataset(pool, pseudo), { ratio: 2, seed: 1 });
    expect(labeled.calls.length + pool.calls.length).toBe(0); // mixing reads no pixel
    await epochBytes(new DataLoader(mixed.dataset, { batchSize: 8, seed: 2, prefetch: 1 }));
    for (const spy of [labeled, pool]) {
      expect(spy.calls.length).toBeGreaterThan(0);
      expect(Math.max(...spy.calls)).toBeLessThanOrEqual(8);
      expect(spy.maxInFlight).toBeLessThanOrEqual(16); // the batch being built and the one read ahead
    }
    expect(labeled.calls.reduce((s, n) => s + n, 0) + pool.calls.reduce((s, n) => s + n, 0)).toBe(mixed.dataset.length);
  });

  it('rejects a view row out of range, naming it', async () => {
    const pseudo = await pseudoLabel(model, streaming.pool, { threshold: 0.7 });
    const mixed = mixLabeled(streaming.labeled, pseudoDataset(streaming.pool, pseudo), { ratio: 1 });
    await expect(mixed.dataset.readRows([0, -1])).rejects.toThrow(`rows[1] must be an integer in [0, ${mixed.dataset.length}) (received -1)`);
  });
});

/** The weights of `model` as raw bytes. */
async function weightBits(net: tf.LayersModel): Promise<Uint8Array[]> {
  return Promise.all(net.getWeights().map(async (w) => bits((await w.data()) as Float32Array)));
}

describe('pseudoLabelRounds and pseudoLabelPlugin with streaming datasets', () => {
  it('pseudoLabelRounds gives the same records and bit-identical final weights as with in-memory datasets', async () => {
    const run = async (labeled: Dataset, unlabeled: Dataset): Promise<{ records: unknown[]; weights: Uint8Array[] }> => {
      const result = await pseudoLabelRounds<tf.LayersModel, Dataset>({
        labeled, unlabeled, valid: unlabeled, rounds: 1, threshold: 0.7, ratio: [1, 2], batchSize: 16, now: () => 0,
        unlabeledLabels: unlabeled.labels,
        train: async ({ round, dataset }) => {
          const net = linearModel(20 + round);
          await trainOn(net, dataset, 3, 7 + round);
          return net;
        },
      });
      const weights = await weightBits(result.model);
      result.model.dispose();
      return { records: result.rounds, weights };
    };
    const fromMemory = await run(memory.labeled, memory.pool);
    const fromStream = await expectNoLeak(() => run(streaming.labeled, streaming.pool));
    expect(fromStream.records).toEqual(fromMemory.records);
    expect((fromStream.records[1] as { kept: number }).kept).toBeGreaterThan(0);
    expect(fromStream.weights).toEqual(fromMemory.weights);
  });

  it('pseudoLabelPlugin relabels a streaming pool and trains to bit-identical weights', async () => {
    const run = async (labeled: Dataset, unlabeled: Dataset): Promise<{ kept: number[]; weights: Uint8Array[] }> => {
      const net = linearModel(30);
      const optimizer = tf.train.adam(0.05);
      const pseudo = pseudoLabelPlugin({
        labeled, unlabeled, trainBatchSize: 8, relabelAfter: [1], threshold: 0.7, ratio: [1, 2], batchSize: 16,
        loader: { labels: 'index' }, seed: 3,
      });
      await new Learner({ model: net, loss: 'softmaxCrossEntropy', optimizer, train: pseudo.source, plugins: [pseudo.plugin], seed: 3 }).fit(3);
      const weights = await weightBits(net);
      net.dispose();
      optimizer.dispose();
      return { kept: pseudo.relabels.map((r) => r.summary.kept), weights };
    };
    const fromMemory = await run(memory.labeled, memory.pool);
    const fromStream = await expectNoLeak(() => run(streaming.labeled, streaming.pool));
    expect(fromMemory.kept.length).toBe(1);
    expect(fromStream.kept).toEqual(fromMemory.kept);
    expect(fromStream.weights).toEqual(fromMemory.weights);
  });
});
