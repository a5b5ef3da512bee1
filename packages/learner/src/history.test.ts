import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugin } from './plugin.js';
import { recordEvents, tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Learner history', () => {
  it('records per-epoch metrics, hypers, seconds from the injected clock, and every step', async () => {
    await expectNoLeak(async () => {
      let clock = 0;
      const tick = plugin('tick', { afterBatch: () => void (clock += 250) });
      const tiny = tinyLearner({ batches: 3, validBatches: 1, now: () => clock, plugins: [tick] });
      const history = await tiny.learner.fit(2);
      expect(history.stopReason).toBe('completed');
      expect(history.epochs.map((e) => [e.epoch, e.step, e.seconds])).toEqual([
        [0, 3, 0.75],
        [1, 6, 0.75],
      ]);
      for (const record of history.epochs) {
        expect(Object.keys(record.train)).toEqual(['loss', 'accuracy']);
        expect(Object.keys(record.valid)).toEqual(['loss', 'accuracy']);
        expect(record.hypers).toEqual({ learningRate: 0.1 });
      }
      expect(history.steps.map((s) => [s.step, s.epoch, s.batch])).toEqual([
        [0, 0, 0],
        [1, 0, 1],
        [2, 0, 2],
        [3, 1, 0],
        [4, 1, 1],
        [5, 1, 2],
      ]);
      // the epoch's train loss is the sample-weighted mean of its step losses (equal batch sizes here)
      const mean = history.steps.slice(0, 3).reduce((sum, s) => sum + s.loss, 0) / 3;
      expect(history.epochs[0]!.train.loss).toBeCloseTo(mean, 6);
      expect(tiny.learner.history).toBe(history);
      expect(tiny.learner.stepCount).toBe(6);
      tiny.dispose();
    });
  });

  it('counts steps across fits and starts a fresh history per fit', async () => {
    await expectNoLeak(async () => {
      const tiny = tinyLearner({ batches: 2, validBatches: 0 });
      const recorder = recordEvents();
      await tiny.learner.fit(1);
      const second = await tiny.learner.fit(1, { plugins: [recorder.plugin] });
      expect(second.steps.map((s) => s.step)).toEqual([2, 3]);
      expect(second.epochs).toHaveLength(1);
      const first = recorder.events.find((e) => e.event === 'beforeBatch')!;
      expect([first.step, first.fitStep]).toEqual([2, 0]);
      tiny.dispose();
    });
  });
});
