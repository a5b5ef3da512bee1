import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugin } from './plugin.js';
import { recordEvents, tinyLearner, traceFit } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tinyLearner', () => {
  it('gives a real classification learner that learns its separable data', async () => {
    await expectNoLeak(async () => {
      const tiny = tinyLearner();
      expect(tiny.learner.train.length).toBe(4);
      const history = await tiny.learner.fit(5);
      expect(history.epochs.at(-1)!.valid.accuracy).toBe(1);
      expect(history.epochs.at(-1)!.train.loss).toBeLessThan(history.epochs[0]!.train.loss!);
      tiny.dispose();
    });
  });

  it('makes the same data for the same seed', async () => {
    await expectNoLeak(async () => {
      const losses = [];
      for (const seed of [7, 7, 8]) {
        const tiny = tinyLearner({ seed, validBatches: 0 });
        losses.push((await tiny.learner.fit(1)).epochs[0]!.train.loss);
        tiny.dispose();
      }
      expect(losses[0]).toBe(losses[1]);
      expect(losses[0]).not.toBe(losses[2]);
    });
  });
});

describe('recordEvents', () => {
  it('records every event and forwards to the wrapped plugin under its name and order', async () => {
    await expectNoLeak(async () => {
      const seen: number[] = [];
      const wrapped = plugin(
        'lr',
        { beforeStep: (ctx) => void seen.push(ctx.step) },
        { order: 7, writes: ['hyper.learningRate'] }
      );
      const recorder = recordEvents(wrapped);
      expect([recorder.plugin.name, recorder.plugin.order, recorder.plugin.writes]).toEqual([
        'lr',
        7,
        ['hyper.learningRate'],
      ]);
      const tiny = tinyLearner({ batches: 2, validBatches: 0, plugins: [recorder.plugin] });
      await tiny.learner.fit(1);
      expect(seen).toEqual([0, 1]);
      expect(recorder.names().filter((e) => e === 'beforeStep')).toHaveLength(2);
      const step = recorder.events.find((e) => e.event === 'beforeStep')!;
      expect(step.hypers).toEqual({ learningRate: 0.1 });
      tiny.dispose();
    });
  });
});

describe('traceFit', () => {
  it('returns the trace and the error of a failing fit instead of throwing', async () => {
    await expectNoLeak(async () => {
      const tiny = tinyLearner({ batches: 1, validBatches: 0 });
      const trace = await traceFit(tiny.learner, 1, {
        plugins: [
          plugin('broken', {
            beforeEpoch() {
              throw new Error('nope');
            },
          }),
        ],
      });
      expect(trace.names).toEqual(['beforeFit', 'beforeEpoch', 'afterFit']);
      expect((trace.error as Error).message).toBe('plugin "broken" threw in beforeEpoch: nope');
      expect(trace.history.stopReason).toBe('error: plugin "broken" threw in beforeEpoch: nope');
      tiny.dispose();
    });
  });
});
