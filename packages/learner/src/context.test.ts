import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { hyperView } from './context.js';
import { fromTfOptimizer } from './optimizer.js';
import { plugin } from './plugin.js';
import { tinyLearner } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('hyperView', () => {
  it('reads and writes the optimizer live, spreads to a plain record, and refuses unknown names', async () => {
    await expectNoLeak(() => {
      const optimizer = fromTfOptimizer(tf.train.momentum(0.1, 0.9));
      const hypers = hyperView(optimizer);
      hypers.learningRate = 0.05;
      expect(optimizer.getHyper('learningRate')).toBe(0.05);
      optimizer.setHyper('momentum', 0.8);
      expect({ ...hypers }).toEqual({ learningRate: 0.05, momentum: 0.8 });
      expect(Object.keys(hypers)).toEqual(['learningRate', 'momentum']);
      expect(() => {
        hypers.beta1 = 0.9;
      }).toThrow('"beta1" is not a hyperparameter of the optimizer (available: learningRate, momentum)');
      optimizer.dispose();
    });
  });
});

describe('LoopContext in a fit', () => {
  it('lossValue matches the step record and runningLoss the epoch loss', async () => {
    await expectNoLeak(async () => {
      const batchLosses: number[] = [];
      const running: number[] = [];
      const reader = plugin('reader', {
        async afterBatch(ctx) {
          batchLosses.push(await ctx.lossValue());
          running.push(await ctx.runningLoss());
        },
      });
      const tiny = tinyLearner({ batches: 3, validBatches: 0, plugins: [reader] });
      const history = await tiny.learner.fit(2);
      expect(batchLosses).toEqual(history.steps.map((s) => s.loss));
      expect(running[1]).toBeCloseTo((batchLosses[0]! + batchLosses[1]!) / 2, 6);
      expect(running[2]).toBeCloseTo(history.epochs[0]!.train.loss!, 6);
      expect(running[5]).toBeCloseTo(history.epochs[1]!.train.loss!, 6);
      tiny.dispose();
    });
  });

  it('exposes the learner, the seeded rng, batchesPerEpoch and lastMetrics', async () => {
    await expectNoLeak(async () => {
      const seen: unknown[] = [];
      const probe = plugin('probe', {
        beforeValidate(ctx) {
          seen.push(ctx.batchesPerEpoch, ctx.learner === tiny.learner, Object.keys(ctx.lastMetrics.train));
        },
        afterValidate(ctx) {
          seen.push(Object.keys(ctx.lastMetrics.valid), ctx.rng.next());
        },
      });
      const tiny = tinyLearner({ batches: 2, plugins: [probe], seed: 3 });
      await tiny.learner.fit(1);
      const reference = tinyLearner({ batches: 2, seed: 3 });
      expect(seen).toEqual([2, true, ['loss', 'accuracy'], ['loss', 'accuracy'], reference.learner.rng.next()]);
      tiny.dispose();
      reference.dispose();
    });
  });

  it('refuses learner.validate() during the training phase but allows it in afterEpoch', async () => {
    await expectNoLeak(async () => {
      const results: unknown[] = [];
      const validator = plugin('validator', {
        async afterBatch(ctx) {
          results.push(await ctx.learner.validate().catch((error: Error) => error.message));
        },
        async afterEpoch(ctx) {
          const metrics = await ctx.learner.validate();
          results.push(metrics.loss === ctx.history.epochs[0]!.valid.loss);
        },
      });
      const tiny = tinyLearner({ batches: 1, plugins: [validator] });
      await tiny.learner.fit(1);
      expect(results).toEqual([
        'validate() cannot run during the training phase of a fit; call it from afterEpoch or later',
        true,
      ]);
      tiny.dispose();
    });
  });

  it('describes cancel hooks and priority order in describeLoop', async () => {
    await expectNoLeak(() => {
      const tiny = tinyLearner({
        plugins: [
          plugin('late', { beforeBatch() {} }, { order: 10, writes: ['param.x'], priority: 1 }),
          plugin('early', { beforeBatch() {}, afterCancelFit() {} }, { order: 0, writes: ['param.x'], priority: 2 }),
        ],
      });
      const text = tiny.learner.describeLoop();
      expect(text).toContain('    beforeBatch: late (10), early (0)');
      expect(text).toContain('afterCancelFit: early (0)\nafterFit: —');
      expect(text).not.toContain('afterCancelBatch');
      tiny.dispose();
    });
  });
});
