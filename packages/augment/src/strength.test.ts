import { expectNoLeak } from '@convkit/core/testing';
import { Learner } from '@convkit/learner';
import type { Batch, LoopContext } from '@convkit/learner';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentStrength, progressiveAugmentation } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The mark a `DataLoader` of `@convkit/data` puts on a batch it transformed when it built it (see its `ImageBatch`). */
const TRANSFORMED_AHEAD = Symbol.for('@convkit/data:transformedAhead');

function batches(count: number): Batch[] {
  return Array.from({ length: count }, (_, b) => ({
    x: tf.tensor4d([b, b + 1], [1, 1, 2, 1]),
    y: tf.tensor2d([[b % 2, 1 - (b % 2)]]),
  }));
}

function model(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 2, 1] }), tf.layers.dense({ units: 2 })] });
}

describe('augmentStrength', () => {
  it('with a plain array source, puts the strength written for step t on the transform before batch t', async () => {
    await expectNoLeak(async () => {
      const holder = { name: 'probe', strength: 0 };
      const augment = augmentStrength(holder);
      const seen: number[] = [];
      const net = model();
      const optimizer = tf.train.sgd(0.1);
      const learner = new Learner({
        model: net,
        loss: 'softmaxCrossEntropy',
        optimizer,
        train: batches(10),
        plugins: [
          augment,
          // A scheduler at order 10 (before augmentStrength's 20) writing strength t / 10 for batch t.
          { name: 'schedule', order: 10, beforeBatch: (ctx: LoopContext) => void (augment.params.strength = ctx.batchIndex / 10) },
          { name: 'watch', order: 25, beforeBatch: () => void seen.push(holder.strength) },
        ],
        seed: 0,
      });
      await learner.fit(1);
      net.dispose();
      optimizer.dispose();
      expect(seen).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    });
  });

  it('refuses a batch marked as transformed ahead, naming the plugin and deferTransform', () => {
    const plugin = augmentStrength({ name: 'probe', strength: 0 }, { name: 'soft' });
    const batch = {};
    Object.defineProperty(batch, TRANSFORMED_AHEAD, { value: { prefetch: 2 }, enumerable: false });
    expect(() => plugin.beforeBatch!({ batch } as never)).toThrow(
      "augmentStrength ('soft'): the batch comes from a DataLoader whose transform already ran when the batch was built " +
        '(with prefetch 2, up to 3 steps ahead), so a scheduled strength would be applied up to 3 steps late',
    );
    expect(() => plugin.beforeBatch!({ batch } as never)).toThrow('Create the DataLoader with `deferTransform: true`');
    expect(() => plugin.beforeBatch!({ batch: {} } as never)).not.toThrow();
  });
});

describe('progressiveAugmentation', () => {
  it('accepts a batch transformed ahead: its strength changes only before an epoch, before any batch is built', () => {
    const holder = { name: 'probe', strength: 0 };
    const plugin = progressiveAugmentation({ transform: holder, schedule: (t) => t });
    const batch = {};
    Object.defineProperty(batch, TRANSFORMED_AHEAD, { value: { prefetch: 2 }, enumerable: false });
    plugin.beforeEpoch!({ epoch: 1, epochs: 3 } as never);
    expect(() => plugin.beforeBatch!({ batch } as never)).not.toThrow();
    expect(holder.strength).toBe(0.5);
  });
});
