import { expectNoLeak } from '@convkit/core/testing';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageBatch } from './batch-encoder.js';
import { EpochIterator, type EpochHost } from './epoch-iterator.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const host: EpochHost = { beforeNext: () => undefined, onDelivered: () => undefined, onClosed: () => undefined };

describe('EpochIterator', () => {
  it.each([
    ['eager builds (workers)', true],
    ['builds queued with setImmediate', false],
  ])('%s: takes in one turn of the event loop before each batch, even when the batch is ready', async (_name, eager) => {
    // A consumer whose steps are synchronous and whose batches are ready: without the turn, a callback queued during a
    // step (a finished decode, a worker's reply) would wait until a batch is late.
    await expectNoLeak(async () => {
      const make = (index: number): Promise<ImageBatch> => Promise.resolve({ x: tf.fill([1, 1, 1, 1], index), y: tf.zeros([1, 2]) });
      const iterator = new EpochIterator(host, 12, 0, 2, make, eager);
      let turns = 0;
      let batches = 0;
      for await (const { x, y } of iterator) {
        expect(turns).toBe(batches); // the callback queued during each earlier step has run
        expect(Array.from(await x.data())).toEqual([batches]);
        tf.dispose([x, y]);
        batches += 1;
        setImmediate(() => (turns += 1));
      }
      expect(batches).toBe(12);
    });
  });

  it.each([
    ['prefetch is 0', 0, undefined],
    ['turnBeforeBatch says no (no read in flight)', 2, () => false],
  ] as const)('hands ready batches out without a turn of the event loop when %s', async (_name, prefetch, turnBeforeBatch) => {
    await expectNoLeak(async () => {
      const make = (): Promise<ImageBatch> => Promise.resolve({ x: tf.zeros([1, 1, 1, 1]), y: tf.zeros([1, 2]) });
      const iterator = new EpochIterator(host, 3, 0, prefetch, make, true, turnBeforeBatch);
      let turns = 0;
      for await (const { x, y } of iterator) {
        tf.dispose([x, y]);
        setImmediate(() => (turns += 1));
      }
      expect(turns).toBe(0);
    });
  });
});
