import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpoint, type Plugin } from '@convkit/learner';
import { tinyLearner } from '@convkit/learner/testing';
import { snapshotEnsemble } from '@convkit/schedule';
import { expectClose } from './fixtures.test-helpers.js';

await tf.setBackend('cpu');

describe('snapshotEnsemble', () => {
  it('runs cosine cycles, snapshots each cycle end and averages the snapshots softmax outputs', async () => {
    await expectNoLeak(async () => {
      const ensemble = snapshotEnsemble({ cycles: 2, maxLearningRate: 0.2, minLearningRate: 0.01 });
      const x = tf.tensor2d([[1, 1], [-1, -0.5], [0.2, -0.1]]);
      const perCycle: number[][] = [];
      const probe: Plugin = {
        name: 'probe',
        order: 60,
        afterEpoch: async (ctx) => {
          if ((ctx.epoch + 1) % 2 === 0) {
            const out = await ctx.learner.predict(x);
            const probabilities = tf.softmax(out);
            perCycle.push(Array.from(await probabilities.data()));
            tf.dispose([out, probabilities]);
          }
        },
      };
      const tiny = tinyLearner({ batches: 2, plugins: [ensemble, probe] });
      const history = await tiny.learner.fit(4);
      // steps per cycle L = 4: lr(t) = 0.01 + 0.19 (1 + cos(π (t mod 4) / 4)) / 2
      const expected = Array.from({ length: 8 }, (_, t) => 0.01 + (0.19 * (1 + Math.cos((Math.PI * (t % 4)) / 4))) / 2);
      expectClose(history.steps.map((s) => s.hypers.learningRate!), expected);
      expect(ensemble.snapshotCount).toBe(2);
      const weightsBefore = Array.from(tiny.variables[0]!.dataSync());
      const mean = await ensemble.predict(x);
      const average = perCycle[0]!.map((p, i) => (p + perCycle[1]![i]!) / 2);
      expectClose(Array.from(await mean.data()), average);
      mean.dispose();
      expect(Array.from(tiny.variables[0]!.dataSync())).toEqual(weightsBefore);
      await tiny.learner.fit(2); // a new fit replaces the snapshots (the old ones are disposed)
      expect(ensemble.snapshotCount).toBe(2);
      ensemble.dispose();
      x.dispose();
      tiny.dispose();
    });
  });

  it('getState/setState carry the snapshots into a fit resumed from a checkpoint', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 1], [-1, -0.5], [0.2, -0.1]]);
      const reference = snapshotEnsemble({ cycles: 2, maxLearningRate: 0.2 });
      const first = tinyLearner({ batches: 2, plugins: [reference] });
      await first.learner.fit(4);
      const expected = await reference.predict(x);
      first.dispose();
      const dir = mkdtempSync(join(tmpdir(), 'convkit-snapshot-'));
      const crash: Plugin = { name: 'crash', order: 90, afterEpoch: (ctx) => { if (ctx.epoch === 2) throw new Error('crash'); } };
      const interrupted = snapshotEnsemble({ cycles: 2, maxLearningRate: 0.2 });
      const second = tinyLearner({ batches: 2, plugins: [interrupted, checkpoint({ dir }), crash] });
      await expect(second.learner.fit(4)).rejects.toThrow('crash');
      expect(interrupted.getState().snapshots).toHaveLength(1);
      interrupted.dispose();
      second.dispose();
      const resumed = snapshotEnsemble({ cycles: 2, maxLearningRate: 0.2 });
      const third = tinyLearner({ batches: 2, plugins: [resumed] });
      await third.learner.fit(4, { resume: dir });
      expect(resumed.snapshotCount).toBe(2);
      const actual = await resumed.predict(x);
      expect(Array.from(await actual.data())).toEqual(Array.from(await expected.data()));
      expect(() => resumed.setState({ snapshots: [[{ shape: [2], values: [1] }]] })).toThrow('state must be { snapshots } from getState');
      rmSync(dir, { recursive: true, force: true });
      tf.dispose([x, expected, actual]);
      reference.dispose();
      resumed.dispose();
      third.dispose();
    });
  });

  it('refuses a fit whose epochs are not a multiple of the cycles', async () => {
    const ensemble = snapshotEnsemble({ cycles: 3 });
    const tiny = tinyLearner({ plugins: [ensemble] });
    await expect(tiny.learner.fit(4)).rejects.toThrow("the fit's epochs must be a multiple of cycles (received 4 epochs for 3 cycles)");
    tiny.dispose();
    expect(() => snapshotEnsemble({ cycles: 0 })).toThrow('cycles must be a positive integer (received 0)');
    await expect(ensemble.predict(tf.zeros([1, 2]))).rejects.toThrow('fit first');
  });
});
