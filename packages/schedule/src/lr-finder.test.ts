import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { tinyLearner } from '@convkit/learner/testing';
import { finderRates, lrFind, paramScheduler, constant, suggestLearningRates } from '@convkit/schedule';
import { expectClose } from './fixtures.test-helpers.js';

await tf.setBackend('cpu');

describe('finderRates', () => {
  it('rises exponentially from the lower bound to the upper one', () => {
    expectClose(finderRates(1e-7, 10, 9), [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10]);
  });
});

describe('suggestLearningRates', () => {
  it('gives the steepest descent per log-rate and the minimum / 10', () => {
    expect(suggestLearningRates([1e-4, 1e-3, 1e-2, 1e-1], [2.3, 2.0, 1.0, 3.0])).toEqual({ valley: 1e-4, steepest: 1e-3, minimumDividedBy10: 1e-3 });
  });
});

describe('lrFind', () => {
  it('sweeps, smooths with bias correction, stops on divergence and restores weights, optimizer state and rate', async () => {
    await expectNoLeak(async () => {
      const scheduler = paramScheduler({ learningRate: constant(0.05) });
      const tiny = tinyLearner({ task: 'regression', batches: 4, optimizer: tf.train.momentum(0.02, 0.9), plugins: [scheduler] });
      await tiny.learner.fit(1); // momentum slots exist now
      const before = tiny.variables.map((v) => Array.from(v.dataSync()));
      const stateBefore = JSON.stringify(await tiny.learner.optimizer.getState!());
      const rateBefore = tiny.learner.optimizer.getHyper('learningRate');
      const found = await lrFind(tiny.learner, { startLearningRate: 1e-4, endLearningRate: 1e4, steps: 60 });
      // the rates are the sweep's, one per step taken
      expectClose(found.learningRates, finderRates(1e-4, 1e4, 60).slice(0, found.learningRates.length));
      // smoothed = EMA with bias correction
      let average = 0;
      found.losses.forEach((loss, i) => {
        average = 0.98 * average + 0.02 * loss;
        expect(found.smoothedLosses[i]).toBeCloseTo(average / (1 - 0.98 ** (i + 1)), 10);
      });
      expect(found.stopReason).toMatch(/^diverged at rate/);
      expect(found.learningRates.length).toBeLessThan(60);
      const last = found.smoothedLosses.at(-1)!;
      expect(!Number.isFinite(last) || last > 4 * Math.min(...found.smoothedLosses.slice(0, -1))).toBe(true);
      expect(found.suggestion.steepest).toBeGreaterThan(1e-4);
      expect(found.suggestion.minimumDividedBy10).toBeLessThan(1e4);
      expect(found.learningRates).toContain(found.suggestion.valley);
      // restored
      expect(tiny.variables.map((v) => Array.from(v.dataSync()))).toEqual(before);
      expect(JSON.stringify(await tiny.learner.optimizer.getState!())).toBe(stateBefore);
      expect(tiny.learner.optimizer.getHyper('learningRate')).toBe(rateBefore);
      expect(tiny.learner.plugins).toEqual([scheduler]);
      const spec = found.chart().spec as { data: { values: unknown[] } };
      expect(spec.data.values.length).toBeGreaterThan(0);
      tiny.learner.optimizer.dispose();
      tiny.dispose();
    });
  });

  it('runs all steps when the loss never diverges, and validates its options', async () => {
    const tiny = tinyLearner({ batches: 3 });
    const found = await lrFind(tiny.learner, { startLearningRate: 1e-6, endLearningRate: 1e-3, steps: 7 });
    tiny.dispose();
    expect(found.stopReason).toBe('completed');
    expect(found.losses).toHaveLength(7);
    await expect(lrFind(tiny.learner, { startLearningRate: -1 })).rejects.toThrow('startLearningRate must be a finite number > 0 (received -1)');
    await expect(lrFind(tiny.learner, { endLearningRate: NaN })).rejects.toThrow('endLearningRate must be a finite number > 0 (received NaN)');
  });
});
