import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpoint, type Plugin } from '@convkit/learner';
import { tinyLearner } from '@convkit/learner/testing';
import { earlyStopping } from '@convkit/schedule';

await tf.setBackend('cpu');

describe('earlyStopping', () => {
  it('gives up after `patience` epochs without improvement, with the reason in history.stopReason', async () => {
    // mode max on the falling training loss: only the first epoch "improves"
    const stopper = earlyStopping({ monitor: 'train.loss', mode: 'max', patience: 2 });
    const tiny = tinyLearner({ plugins: [stopper] });
    const history = await tiny.learner.fit(10);
    tiny.dispose();
    expect(history.epochs).toHaveLength(3);
    expect(stopper.bestEpoch).toBe(0);
    expect(history.stopReason).toMatch(/^cancelled by plugin "earlyStopping" in afterEpoch: train\.loss did not improve for 2 epochs \(best [\d.]+ at epoch 0\)$/);
  });

  it('gives up after `patienceMinutes` on the injected clock, without sleeping', async () => {
    let clock = 0;
    const stopper = earlyStopping({ monitor: 'train.loss', mode: 'max', patienceMinutes: 5 });
    const tick: Plugin = { name: 'tick', afterEpoch: () => void (clock += 2 * 60_000) }; // each epoch "takes" 2 minutes
    const tiny = tinyLearner({ now: () => clock, plugins: [tick, stopper] });
    const history = await tiny.learner.fit(20);
    tiny.dispose();
    // best at epoch 0 (t = 2 min); epochs 1, 2 reach 4, 6 min after the fit start → 6 − 2 = 4 < 5; epoch 3: 8 − 2 = 6 ≥ 5
    expect(history.epochs).toHaveLength(4);
    expect(stopper.stoppedReason).toBe(`train.loss did not improve for 6.0 minutes (best ${stopper.best} at epoch 0)`);
  });

  it('with restoreBest puts back the best weights and frees its copy; resets across fits', async () => {
    await expectNoLeak(async () => {
      const stopper = earlyStopping({ monitor: 'train.loss', mode: 'max', patience: 1, restoreBest: true });
      let bestWeights: number[] = [];
      const watch: Plugin = {
        name: 'watch',
        order: 60,
        afterEpoch: (ctx) => {
          if (ctx.epoch === 0) bestWeights = Array.from(tiny.variables[0]!.dataSync());
        },
      };
      const tiny = tinyLearner({ plugins: [stopper, watch] });
      const history = await tiny.learner.fit(5);
      expect(history.epochs).toHaveLength(2);
      expect(Array.from(tiny.variables[0]!.dataSync())).toEqual(bestWeights);
      await tiny.learner.fit(1);
      expect(stopper.wait).toBe(0);
      expect(stopper.bestEpoch).toBe(0);
      tiny.dispose();
    });
  });

  it('getState/setState carry best, bestEpoch and wait into a fit resumed from a checkpoint', async () => {
    const before = tf.memory().numTensors;
    const dir = mkdtempSync(join(tmpdir(), 'convkit-early-'));
    const stopper = earlyStopping({ monitor: 'train.loss', mode: 'max', patience: 3 });
    const first = tinyLearner({ plugins: [stopper, checkpoint({ dir })] });
    await first.learner.fit(3); // epoch 0 is best, epochs 1 and 2 do not improve: wait 2
    first.dispose();
    expect(JSON.parse(JSON.stringify(stopper.getState()))).toEqual({ best: stopper.best, bestEpoch: 0, wait: 2 });
    const resumed = earlyStopping({ monitor: 'train.loss', mode: 'max', patience: 3 });
    const second = tinyLearner({ plugins: [resumed] });
    const history = await second.learner.fit(10, { resume: dir });
    second.dispose();
    rmSync(dir, { recursive: true, force: true });
    expect(history.epochs).toHaveLength(4); // one more epoch without improvement reaches patience 3
    expect(resumed.wait).toBe(3);
    expect(resumed.best).toBe(stopper.best);
    expect(() => resumed.setState({ best: 'x' })).toThrow('state must be { best, bestEpoch, wait } from getState');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options naming them', () => {
    expect(() => earlyStopping({ patience: 1.5 })).toThrow('patience must be an integer >= 0 (received 1.5)');
    expect(() => earlyStopping({ patienceMinutes: -1 })).toThrow('patienceMinutes must be a finite number > 0 (received -1)');
    expect(() => earlyStopping({ mode: 'up' as 'max' })).toThrow("mode must be one of 'auto', 'min', 'max'");
  });
});
