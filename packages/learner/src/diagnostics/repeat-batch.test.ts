import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from '../batch-source.js';
import { Learner } from '../learner.js';
import { plugin } from '../plugin.js';
import { repeatBatch } from './repeat-batch.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** `count` batches whose single input value is the batch index. */
function numbered(count: number): BatchSource {
  return {
    length: count,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let i = 0; i < count; i++) yield { x: tf.tensor2d([[i]]), y: tf.tensor2d([[0]]) };
    },
  };
}

async function seen(count: number, times: number, epochs = 1): Promise<number[]> {
  const w = tf.tidy(() => tf.variable(tf.zeros([1, 1])));
  const optimizer = tf.train.sgd(0.1);
  const inputs: number[] = [];
  const learner = new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'meanSquaredError',
    optimizer,
    train: numbered(count),
    plugins: [repeatBatch(times), plugin('record', { afterBatch: (ctx) => void inputs.push(ctx.batch!.x.dataSync()[0]!) })],
  });
  await learner.fit(epochs);
  w.dispose();
  optimizer.dispose();
  return inputs;
}

describe('repeatBatch', () => {
  it('trains on batch 0 three times, then batch 3 three times, then batch 6', async () => {
    const inputs = await expectNoLeak(() => seen(7, 3));
    expect(inputs).toEqual([0, 0, 0, 3, 3, 3, 6]);
  });

  it('starts afresh each epoch', async () => {
    const inputs = await expectNoLeak(() => seen(4, 3, 2));
    expect(inputs).toEqual([0, 0, 0, 3, 0, 0, 0, 3]);
  });

  it('changes nothing with times = 1', async () => {
    expect(await seen(3, 1)).toEqual([0, 1, 2]);
  });

  it('rejects a bad count, naming it', () => {
    expect(() => repeatBatch(0)).toThrow('times must be a positive integer (received 0)');
    expect(() => repeatBatch(2, { priority: Number.NaN })).toThrow('options.priority must be a finite number (received NaN)');
  });
});
