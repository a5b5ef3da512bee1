import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { EpochRecord, LoopContext } from '@convkit/learner';
import { tinyLearner } from '@convkit/learner/testing';
import { createMonitor, reduceLROnPlateau, type ReduceLROnPlateauOptions } from '@convkit/schedule';
import { TORCH, expectClose, fakeOptimizer } from './fixtures.test-helpers.js';

await tf.setBackend('cpu');

/** Feeds a metric sequence to the plugin as valid.loss, one afterEpoch per value; returns the rate after each. */
function feed(options: ReduceLROnPlateauOptions, base: number, metrics: readonly number[]): number[] {
  const plugin = reduceLROnPlateau({ monitor: 'valid.loss', ...options });
  const optimizer = fakeOptimizer({ learningRate: base });
  const epochs: EpochRecord[] = [];
  const ctx = { optimizer, history: { epochs, steps: [] } } as unknown as LoopContext;
  void plugin.beforeFit!(ctx);
  return metrics.map((loss, epoch) => {
    epochs.push({ epoch, step: 0, seconds: 0, train: {}, valid: { loss }, hypers: {} });
    void plugin.afterEpoch!({ ...ctx, epoch } as LoopContext);
    return optimizer.getHyper('learningRate');
  });
}

describe('reduceLROnPlateau', () => {
  it('matches torch ReduceLROnPlateau fed the same metrics (rel/abs, min/max, cooldown, min rate, eps)', () => {
    for (const name of ['plateauMinRel', 'plateauMinAbsCooldown', 'plateauMaxRel', 'plateauEps']) {
      const c = TORCH.cases[name]!;
      const { base, ...options } = c.options as unknown as ReduceLROnPlateauOptions & { base: number };
      expectClose(feed(options, base, c.metrics!), c.learningRate, name);
    }
  });

  it('rejects factor >= 1 (quoting it), an unknown mode and a bad monitor name', () => {
    expect(() => reduceLROnPlateau({ factor: 1.5 })).toThrow('factor must be in (0, 1): it multiplies the rate (received 1.5)');
    expect(() => reduceLROnPlateau({ factor: 1 })).toThrow('(received 1)');
    expect(() => reduceLROnPlateau({ mode: 'lowest' as 'min' })).toThrow("mode must be one of 'auto', 'min', 'max' (received \"lowest\")");
    expect(() => reduceLROnPlateau({ monitor: 'val_loss' })).toThrow('monitor must look like "valid.loss"');
    expect(() => reduceLROnPlateau({ patience: -1 })).toThrow('patience must be an integer >= 0 (received -1)');
  });

  it('names the missing monitor and lists the metrics in the history', async () => {
    const tiny = tinyLearner({ validBatches: 0, plugins: [reduceLROnPlateau({ monitor: 'valid.loss' })] });
    await expect(tiny.learner.fit(1)).rejects.toThrow(
      'monitor "valid.loss" is not in the history (available: train.loss, train.accuracy); give the learner `valid` data'
    );
    tiny.dispose();
  });

  it('resets its counters across fits (Keras test_state_reset_across_fit_calls)', async () => {
    const plateau = reduceLROnPlateau({ monitor: 'train.loss', mode: 'max', patience: 0, factor: 0.5 });
    const tiny = tinyLearner({ batches: 2, plugins: [plateau] });
    const first = await tiny.learner.fit(3);
    // mode max on a falling loss: epoch 0 improves on -Infinity, epochs 1 and 2 are bad → halved after each
    // (an epoch record holds the rate the epoch trained with, read before afterEpoch)
    expect(first.epochs.map((e) => e.hypers.learningRate)).toEqual([0.1, 0.1, 0.05]);
    expect(tiny.learner.optimizer.getHyper('learningRate')).toBe(0.025);
    const bestAfterFirst = plateau.best;
    const second = await tiny.learner.fit(1);
    tiny.dispose();
    expect(second.epochs[0]!.hypers.learningRate).toBe(0.025); // a fresh best: no reduction in the first epoch
    expect(plateau.best).not.toBe(bestAfterFirst);
    expect(plateau.badEpochs).toBe(0);
  });
});

describe('createMonitor', () => {
  it('picks max for accuracy-like names and min otherwise, and applies minDelta', () => {
    expect(createMonitor({ monitor: 'valid.accuracy' }).mode).toBe('max');
    const loss = createMonitor({ monitor: 'train.loss', minDelta: 0.1 });
    expect(loss.mode).toBe('min');
    expect(loss.isImprovement(0.85, 1)).toBe(true);
    expect(loss.isImprovement(0.95, 1)).toBe(false);
    expect(createMonitor({ baseline: 0.5 }).initialBest).toBe(0.5);
    expect(() => createMonitor({ minDelta: NaN })).toThrow('minDelta must be a finite number >= 0 (received NaN)');
  });
});
