import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { createImageDataset, DataLoader } from '@convkit/data';
import { Learner } from '@convkit/learner';
import { paramScheduler } from '@convkit/schedule';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedBatchSampler } from './balanced-batch-sampler.js';
import { ResamplingSampler } from './resampling.js';
import { samplerParams } from './sampler-params.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 100 one-pixel images, labels in E1.3's 43/37/13/7 split.
const LABELS = [43, 37, 13, 7].flatMap((count, c) => Array<number>(count).fill(c));
const DATASET = createImageDataset({ images: Uint8Array.from(LABELS, (_, row) => row), labels: LABELS, shape: [1, 1, 1] });

/** The index labels of each batch of the rest of an epoch, disposing every batch. */
async function batchLabels(iterator: AsyncIterator<{ x: tf.Tensor; y: tf.Tensor }>): Promise<number[][]> {
  const labels: number[][] = [];
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    labels.push(Array.from(await r.value.y.data()));
    tf.dispose([r.value.x, r.value.y]);
  }
  return labels;
}

const rareShare = (labels: number[][]): number => labels.flat().filter((label) => label === 3).length / labels.flat().length;

describe('samplerParams', () => {
  it("exposes the sampler's balance as a schedulable param, read when the next epoch starts", async () => {
    await expectNoLeak(async () => {
      const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 8, numBatches: 20 });
      const plugin = samplerParams(sampler);
      expect(plugin.name).toBe('sampler');
      expect(Object.keys(plugin.params)).toEqual(['balance']);
      const loader = new DataLoader(DATASET, { batchSize: 8, sampler, labels: 'index', seed: 0 });
      const epoch = loader[Symbol.asyncIterator]();
      const head = await epoch.next();
      expect(Array.from(await head.value!.y.data()).filter((label) => label === 3).length).toBe(2);
      tf.dispose([head.value!.x, head.value!.y]);
      plugin.params.balance = 0; // what paramScheduler does for 'param.sampler.balance', here mid-epoch
      expect(sampler.balance).toBe(0);
      const rest = await batchLabels(epoch);
      expect(rest.length).toBe(19);
      for (const batch of rest) expect(batch.filter((label) => label === 3).length).toBe(2); // still balanced: exactly 2 of 8
      const next = await batchLabels(loader[Symbol.asyncIterator]());
      expect(rareShare(next)).toBeCloseTo(0.07, 1); // natural: 8 · 0.07 = 0.56 per batch, 0 or 1
      expect(plugin.getState()).toEqual({ balance: 0 });
      plugin.setState({ balance: 0.25 });
      expect(sampler.balance).toBe(0.25);
      expect(() => plugin.setState({ mix: 1 })).toThrow('state must be { balance: number } (received {"mix":1})');
      expect(() => (plugin.params.balance = 2)).toThrow('balance must be a number in [0, 1] (received 2)');
    });
    expect(() => samplerParams(new ResamplingSampler({ labels: LABELS, mode: 'over' }))).toThrow('sampler must have a numeric balance');
    expect(() => samplerParams(new BalancedBatchSampler({ labels: LABELS, batchSize: 4 }), { name: 'a.b' })).toThrow(
      'name must be a non-empty string without dots (received "a.b")',
    );
  });

  for (const unit of ['epoch', 'step'] as const) {
    it(`a paramScheduler'd balance (unit ${unit}) is the one each epoch is drawn with, as recorded`, async () => {
      const sampler = new BalancedBatchSampler({ labels: LABELS, batchSize: 8, numBatches: 5 });
      const drawnWith: number[] = [];
      const epochIndices = sampler.epochIndices.bind(sampler);
      sampler.epochIndices = (epoch, rng) => {
        drawnWith.push(sampler.balance);
        return epochIndices(epoch, rng);
      };
      const perEpoch = [1, 0.75, 0.5, 0.25, 0];
      const schedule = unit === 'epoch' ? (e: number) => perEpoch[e]! : (t: number) => perEpoch[Math.floor(t / 5)]!;
      const scheduler = paramScheduler({ 'param.sampler.balance': schedule }, { unit, input: 'index' });
      const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, 1] }), tf.layers.dense({ units: 4 })] });
      const optimizer = tf.train.sgd(0.01);
      const learner = new Learner({
        model,
        loss: 'softmaxCrossEntropy',
        optimizer,
        train: new DataLoader(DATASET, { batchSize: 8, sampler, seed: 0 }),
        plugins: [samplerParams(sampler), scheduler],
        seed: 0,
      });
      await learner.fit(5);
      model.dispose();
      optimizer.dispose();
      expect(drawnWith).toEqual(perEpoch);
      const recorded = scheduler.recorded.map((r) => [r.epoch, r.values['param.sampler.balance']]);
      const epochs = [0, 1, 2, 3, 4];
      expect(recorded.map(([epoch]) => epoch)).toEqual(unit === 'epoch' ? epochs : epochs.flatMap((e) => [e, e, e, e, e]));
      for (const [epoch, value] of recorded) expect(value).toBe(perEpoch[epoch as number]);
    });
  }
});
