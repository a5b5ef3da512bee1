import { augmentStrength, batchAffine, batchFlip, batchTransform, compose, mixPlugin, mixup, progressiveAugmentation } from '@convkit/augment';
import { expectNoLeak } from '@convkit/core/testing';
import { Learner } from '@convkit/learner';
import type { History, Plugin } from '@convkit/learner';
import { paramScheduler } from '@convkit/schedule';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataLoader } from './data-loader.js';
import type { DataLoaderOptions } from './data-loader.js';
import { createImageDataset } from './dataset.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 40 one-by-two images, two classes: 10 batches of 4. */
const DATASET = createImageDataset({
  images: Uint8Array.from({ length: 80 }, (_, i) => i),
  labels: Array.from({ length: 40 }, (_, i) => i % 2),
  shape: [1, 2, 1],
});

/**
 * A probe transform: records, per batch, the strength in force when it ran, and scales x by (1 + strength) so the
 * batch the model trains on carries the strength too.
 */
function probe(): { holder: { name: string; strength: number }; used: number[]; transform: NonNullable<DataLoaderOptions['transform']> } {
  const holder = { name: 'probe', strength: 0 };
  const used: number[] = [];
  return { holder, used, transform: (x) => (used.push(holder.strength), x.mul(1 + holder.strength)) };
}

function model(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 2, 1] }), tf.layers.dense({ units: 2, kernelInitializer: 'zeros' })] });
}

/** Fits a fresh zero-initialised model on `train` with `plugins` for `epochs`, disposing it even when the fit throws. */
async function fitWith(train: DataLoader, plugins: Plugin[], epochs = 1): Promise<History> {
  const net = model();
  const optimizer = tf.train.sgd(0.1);
  const learner = new Learner({ model: net, loss: 'softmaxCrossEntropy', optimizer, train, plugins, seed: 0 });
  try {
    return await learner.fit(epochs);
  } finally {
    net.dispose();
    optimizer.dispose();
  }
}

/** Fits one epoch of 10 batches with the strength scheduled 0.0, 0.1, …, 0.9; returns the strengths used and seen. */
async function fitScheduled(prefetch: number, deferTransform: boolean): Promise<{ used: number[]; trained: number[]; recorded: number[] }> {
  const { holder, used, transform } = probe();
  const scheduler = paramScheduler({ 'param.augment.strength': (t: number) => t / 10 }, { input: 'index' });
  const trained: number[] = [];
  const watch: Plugin = {
    name: 'watch',
    order: 40,
    // x = bytes / 255 × (1 + strength): the first pixel of batch b is 8b / 255 × (1 + s).
    beforeBatch: async (ctx) => {
      const first = (await ctx.batch!.x.data())[0]!;
      trained.push(first === 0 ? 0 : Math.round(((first * 255) / (8 * ctx.batchIndex) - 1) * 1000) / 1000);
    },
  };
  const loader = new DataLoader(DATASET, { batchSize: 4, shuffle: false, prefetch, transform, deferTransform });
  await fitWith(loader, [augmentStrength(holder), scheduler, watch]);
  return { used, trained: trained.slice(1), recorded: scheduler.recorded.map((r) => r.values['param.augment.strength']!) };
}

const SCHEDULED = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

describe('scheduled augmentation strength with a deferred loader transform', () => {
  for (const prefetch of [0, 2]) {
    it(`augments batch t with the strength scheduled for step t (prefetch ${prefetch})`, async () => {
      await expectNoLeak(async () => {
        const { used, trained, recorded } = await fitScheduled(prefetch, true);
        expect(recorded).toEqual(SCHEDULED);
        expect(used).toEqual(SCHEDULED);
        expect(trained).toEqual(SCHEDULED.slice(1).map((s) => Math.round(s * 1000) / 1000));
      });
    });
  }

  for (const prefetch of [0, 2]) {
    it(`without deferTransform, augmentStrength refuses the loader's batches before any step (prefetch ${prefetch})`, async () => {
      await expectNoLeak(async () => {
        await expect(fitScheduled(prefetch, false)).rejects.toThrow(
          "augmentStrength ('augment'): the batch comes from a DataLoader whose transform already ran when the batch " +
            `was built (with prefetch ${prefetch}, up to ${prefetch + 1} steps ahead), so a scheduled strength would be ` +
            `applied up to ${prefetch + 1} steps late while the history reports it as used on time. Create the ` +
            'DataLoader with `deferTransform: true`',
        );
      });
    });
  }

  it("the README pattern (batchTransform of a pipeline, augmentStrength, paramScheduler) errors without deferTransform and is on time with it", async () => {
    const run = async (deferTransform: boolean): Promise<number[]> => {
      const pipeline = compose([batchFlip(), batchAffine({ shift: 0.1 })]);
      const seen: number[] = [];
      const loader = new DataLoader(DATASET, { batchSize: 4, transform: batchTransform(pipeline), deferTransform });
      await fitWith(loader, [
        augmentStrength(pipeline),
        paramScheduler({ 'param.augment.strength': (t: number) => t / 10 }, { input: 'index' }),
        { name: 'watch', order: 40, beforeBatch: () => void seen.push(pipeline.strength) },
      ]);
      return seen;
    };
    await expectNoLeak(async () => {
      await expect(run(false)).rejects.toThrow('Create the DataLoader with `deferTransform: true`');
      expect(await run(true)).toEqual(SCHEDULED);
    });
  });

  it('a loader with a transform and no strength plugin trains on transformed batches; the mark is not enumerable', async () => {
    await expectNoLeak(async () => {
      const loader = new DataLoader(DATASET, { batchSize: 4, shuffle: false, transform: (x) => x.mul(2) });
      const first: number[] = [];
      for await (const batch of loader) {
        expect(Object.keys(batch)).toEqual(['x', 'y']);
        first.push((await batch.x.data())[0]! * 255);
        tf.dispose([batch.x, batch.y]);
      }
      expect(first.map((v) => Math.round(v))).toEqual(SCHEDULED.map((_, b) => 16 * b));
      const { transform } = probe();
      const history = await fitWith(new DataLoader(DATASET, { batchSize: 4, transform }), []);
      expect(history.steps.length).toBe(10);
    });
  });

  for (const prefetch of [0, 2]) {
    it(`progressiveAugmentation is on time without deferTransform: each epoch is built after its beforeEpoch (prefetch ${prefetch})`, async () => {
      await expectNoLeak(async () => {
        const { holder, used, transform } = probe();
        const loader = new DataLoader(DATASET, { batchSize: 8, prefetch, transform });
        await fitWith(loader, [progressiveAugmentation({ transform: holder, schedule: (t) => t })], 3);
        expect(used).toEqual([0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1]);
      });
    });
  }

  it('progressiveAugmentation and mixPlugin run after the deferred transform, and the batches match the undeferred ones', async () => {
    const runs: number[][] = [];
    for (const deferTransform of [false, true]) {
      const { holder, transform } = probe();
      holder.strength = 0.5;
      const seen: number[] = [];
      await fitWith(new DataLoader(DATASET, { batchSize: 4, seed: 3, transform, deferTransform }), [
        progressiveAugmentation({ transform: holder, schedule: () => 0.5 }),
        mixPlugin(mixup()),
        { name: 'watch', order: 40, beforeBatch: async (ctx) => void seen.push(...(await ctx.batch!.x.data())) },
      ], 2);
      runs.push(seen);
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('refuses to hand out the next batch when a deferred transform was never applied', async () => {
    const { transform } = probe();
    const loader = new DataLoader(DATASET, { batchSize: 4, transform, deferTransform: true });
    await expectNoLeak(async () => {
      const iterator = loader[Symbol.asyncIterator]();
      const first = await iterator.next();
      tf.dispose([first.value!.x, first.value!.y]);
      await expect(iterator.next()).rejects.toThrow(
        'batch 0 of epoch 1 was handed out with deferTransform: true but its transform never ran: call batch.applyTransform()',
      );
    });
    expect(() => new DataLoader(DATASET, { batchSize: 4, deferTransform: 'yes' as unknown as boolean })).toThrow(
      'deferTransform must be a boolean (received yes)',
    );
  });
});
