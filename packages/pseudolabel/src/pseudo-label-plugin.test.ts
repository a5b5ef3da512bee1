import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { subset } from '@convkit/data';
import { Learner, plugin } from '@convkit/learner';
import { pseudoLabelPlugin } from '@convkit/pseudolabel';
import { halvesDataset, linearModel } from './halves.fixture.js';

await tf.setBackend('cpu');

const labeled = subset(halvesDataset(400, 1), Array.from({ length: 8 }, (_, i) => i));
const unlabeled = halvesDataset(300, 2);

describe('pseudoLabelPlugin', () => {
  it('relabels after the chosen epochs and serves the mix, with a constant epoch length (no leaks)', async () => {
    const result = await expectNoLeak(async () => {
      const model = linearModel(4);
      const optimizer = tf.train.adam(0.05);
      const pseudo = pseudoLabelPlugin({
        labeled,
        unlabeled,
        trainBatchSize: 8,
        relabelAfter: [19, 21],
        threshold: 0.8,
        ratio: [1, 3],
        loader: { labels: 'index' },
        unlabeledLabels: unlabeled.labels,
      });
      const rowsPerEpoch: number[] = [];
      let rows = 0;
      const counter = plugin('counter', {
        beforeEpoch() { rows = 0; },
        beforeBatch(ctx) { rows += ctx.batch!.x.shape[0]; },
        afterEpoch() { rowsPerEpoch.push(rows); },
      });
      const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: pseudo.source, plugins: [pseudo.plugin, counter] });
      const history = await learner.fit(24);
      model.dispose();
      optimizer.dispose();
      return { relabels: pseudo.relabels.map((r) => ({ ...r })), rowsPerEpoch, length: pseudo.source.length, epochs: history.epochs.length };
    });
    expect(result.length).toBe(4); // ceil(8 × (1 + 3) / 8)
    expect(result.epochs).toBe(24);
    expect(result.rowsPerEpoch.every((n) => n === 32)).toBe(true);
    expect(result.relabels.map((r) => r.epoch)).toEqual([19, 21]);
    for (const relabel of result.relabels) {
      expect(relabel.pseudoCount).toBe(Math.min(24, relabel.summary.kept));
      expect(relabel.summary.kept).toBeGreaterThan(30);
      expect(relabel.summary.accuracy).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('trains on the labeled set only until the first relabeling, and resets in beforeFit', async () => {
    const model = linearModel(2);
    const optimizer = tf.train.adam(0.01);
    const pseudo = pseudoLabelPlugin({ labeled, unlabeled, trainBatchSize: 4, relabelAfter: (epoch) => epoch === 0, threshold: 0, loader: { labels: 'index' } });
    const seen = new Set<string>();
    const recorder = plugin('recorder', {
      beforeBatch(ctx) {
        const values = ctx.batch!.x.dataSync();
        for (let i = 0; i < ctx.batch!.x.shape[0]; i++) seen.add(`${ctx.epoch}:${Array.from(values.subarray(i * 16, i * 16 + 16)).join(',')}`);
      },
    });
    const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: pseudo.source, plugins: [pseudo.plugin, recorder] });
    await learner.fit(2);
    const epochRows = (epoch: number): number => [...seen].filter((key) => key.startsWith(`${epoch}:`)).length;
    expect(epochRows(0)).toBe(8); // labeled only (cycled to fill 6 batches of 4)
    expect(epochRows(1)).toBeGreaterThan(8); // the mix: labeled + pseudolabeled images
    expect(pseudo.relabels.length).toBe(1);
    await learner.fit(1);
    expect(pseudo.relabels.length).toBe(0); // a new fit starts over from the labeled set
    model.dispose();
    optimizer.dispose();
  });

  it('rejects bad options', () => {
    const base = { labeled, unlabeled, trainBatchSize: 8 };
    expect(() => pseudoLabelPlugin({ ...base, threshold: -1 })).toThrow('threshold must be a number in [0, 1] (received -1)');
    expect(() => pseudoLabelPlugin({ ...base, trainBatchSize: 0 })).toThrow('trainBatchSize must be a positive integer (received 0)');
    expect(() => pseudoLabelPlugin({ ...base, batchesPerEpoch: 1.5 })).toThrow('batchesPerEpoch must be a positive integer (received 1.5)');
    expect(() => pseudoLabelPlugin({ ...base, relabelAfter: [-1] })).toThrow('relabelAfter must be a list of epoch indices ≥ 0 or a function (received an array of 1)');
    expect(() => pseudoLabelPlugin({ ...base, ratio: '1:2' as unknown as number })).toThrow('ratio must be [labeled, pseudo]');
    expect(() => pseudoLabelPlugin({ ...base, unlabeled: undefined as never })).toThrow('unlabeled must be a Dataset from @convkit/data, in memory or streaming (received undefined)');
  });
});
