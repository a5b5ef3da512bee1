import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '@convkit/core/testing';
import { Learner, plugin, PluginConflictError, type Batch, type BatchSource, type LoopContext } from '@convkit/learner';
import { recordEvents, tinyLearner, traceFit } from '@convkit/learner/testing';
import { swa, swaLearningRateAt, type SwaPlugin } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Snapshot = number[][];

const read = (tensors: readonly tf.Tensor[]): Snapshot => tensors.map((tensor) => Array.from(tensor.dataSync()));

/** Reads `swa.averagedWeights()` into arrays and disposes the tensors. */
function readAverage(averaging: SwaPlugin): Snapshot {
  const tensors = averaging.averagedWeights();
  const values = read(tensors);
  tensors.forEach((tensor) => tensor.dispose());
  return values;
}

/** The arithmetic mean as float32 arithmetic computes it: sum in float32, then divide; exact on the cpu backend. */
function float32Mean(snapshots: readonly Snapshot[]): Snapshot {
  return snapshots[0]!.map((weight, i) =>
    weight.map((_, j) => {
      let sum = 0;
      for (const snapshot of snapshots) sum = Math.fround(sum + snapshot[i]![j]!);
      return Math.fround(sum / snapshots.length);
    })
  );
}

/** The mean in float64, for a tolerance check independent of the rounding order. */
function float64Mean(snapshots: readonly Snapshot[]): number[] {
  return snapshots[0]!.flatMap((weight, i) =>
    weight.map((_, j) => snapshots.reduce((sum, snapshot) => sum + snapshot[i]![j]!, 0) / snapshots.length)
  );
}

/** A plugin that snapshots the given variables at the end of every epoch (or every step). */
function weightRecorder(variables: readonly tf.Variable[], at: 'afterEpoch' | 'afterStep' = 'afterEpoch') {
  const records: { epoch: number; batchIndex: number; weights: Snapshot }[] = [];
  const recorder = plugin('weightRecorder', {
    [at]: (ctx: LoopContext) => {
      records.push({ epoch: ctx.epoch, batchIndex: ctx.batchIndex, weights: read(variables) });
    },
  });
  return { plugin: recorder, records };
}

describe('swa', () => {
  it('averages to the arithmetic mean of the weights at each epoch end from startEpoch on', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 2, swapAtEnd: false });
      const tiny = tinyLearner({ plugins: [averaging] });
      const recorder = weightRecorder(tiny.variables);
      await tiny.learner.fit(5, { plugins: [recorder.plugin] });

      const averaged = recorder.records.filter((record) => record.epoch >= 2).map((record) => record.weights);
      expect(averaged).toHaveLength(3);
      expect(averaging.averagedCount).toBe(3);
      expect(averaged[0]).not.toEqual(averaged[2]); // the weights moved, so the mean is not any one of them
      const average = readAverage(averaging);
      expect(average).toEqual(float32Mean(averaged));
      float64Mean(averaged).forEach((value, index) => expect(average.flat()[index]).toBeCloseTo(value, 6));
      // swapAtEnd: false leaves the last weights in the model
      expect(read(tiny.variables)).toEqual(recorder.records.at(-1)!.weights);
      averaging.dispose();
      tiny.dispose();
    });
  });

  it('averages every `frequency` steps of the averaging phase when given', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 1, frequency: 3, swapAtEnd: false });
      const tiny = tinyLearner({ batches: 4, plugins: [averaging] });
      const recorder = weightRecorder(tiny.variables, 'afterStep');
      await tiny.learner.fit(3, { plugins: [recorder.plugin] });
      // phase steps 1..8 are epoch 1 batches 0-3 and epoch 2 batches 0-3: the 3rd and 6th are (1, 2) and (2, 1)
      const at = (epoch: number, batchIndex: number): Snapshot =>
        recorder.records.find((record) => record.epoch === epoch && record.batchIndex === batchIndex)!.weights;
      expect(averaging.averagedCount).toBe(2);
      expect(readAverage(averaging)).toEqual(float32Mean([at(1, 2), at(2, 1)]));
      averaging.dispose();
      tiny.dispose();
    });
  });

  it('respects startEpoch: nothing is averaged or swapped before it', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 3 });
      const tiny = tinyLearner({ plugins: [averaging] });
      const recorder = weightRecorder(tiny.variables);
      await tiny.learner.fit(3, { plugins: [recorder.plugin] });
      expect(averaging.averagedCount).toBe(0);
      expect(read(tiny.variables)).toEqual(recorder.records.at(-1)!.weights);
      expect(() => averaging.averagedWeights()).toThrow(/no averaging point has been reached yet/);
      tiny.dispose();
    });
  });

  it('swaps the average into the model at the end of the fit by default, and frees it', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 1 });
      const tiny = tinyLearner({ plugins: [averaging] });
      const recorder = weightRecorder(tiny.variables);
      await tiny.learner.fit(4, { plugins: [recorder.plugin] });
      const expected = float32Mean(recorder.records.filter((r) => r.epoch >= 1).map((r) => r.weights));
      expect(read(tiny.variables)).toEqual(expected);
      expect(read(tiny.variables)).not.toEqual(recorder.records.at(-1)!.weights);
      expect(() => averaging.averagedWeights()).toThrow(/swapAtEnd/);
      tiny.dispose();
    });
  });

  it('apply(model) copies the average into a tf.LayersModel', async () => {
    await expectNoLeak(async () => {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
      const optimizer = tf.train.sgd(0.2);
      const data: BatchSource = {
        length: 3,
        *[Symbol.iterator](): Iterator<Batch> {
          for (let b = 0; b < 3; b++) {
            const x = [[1, b], [-1, -b], [b, 1], [-b, -1]];
            yield { x: tf.tensor2d(x), y: tf.tensor1d([1, 0, 1, 0], 'int32') };
          }
        },
      };
      const learner = new Learner({ model: model, loss: 'softmaxCrossEntropy', optimizer: optimizer, train: data });
      const averaging = swa({ startEpoch: 1, swapAtEnd: false });
      const snapshots: Snapshot[] = [];
      const recorder = plugin('recorder', { afterEpoch: (ctx) => void (ctx.epoch >= 1 && snapshots.push(read(model.getWeights()))) });
      await learner.fit(4, { plugins: [averaging, recorder] });
      averaging.apply(model);
      expect(read(model.getWeights())).toEqual(float32Mean(snapshots));
      const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
      expect(() => averaging.apply(other)).toThrow(/shape \[3, 2\] \(expected \[2, 2\]/);
      other.dispose();
      averaging.dispose();
      learner.optimizer.dispose();
      model.dispose();
    });
  });

  it('sets a constant SWA learning rate during the averaging phase only', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 2, learningRate: 0.05 });
      expect(averaging.writes).toEqual(['hyper.learningRate']);
      const recorder = recordEvents(undefined, { order: 100 });
      const tiny = tinyLearner({ batches: 2, plugins: [averaging, recorder.plugin] });
      await tiny.learner.fit(4);
      const rates = recorder.events.filter((e) => e.event === 'beforeStep').map((e) => [e.epoch, e.hypers.learningRate]);
      expect(rates).toEqual([[0, 0.1], [0, 0.1], [1, 0.1], [1, 0.1], [2, 0.05], [2, 0.05], [3, 0.05], [3, 0.05]]);
      tiny.dispose();
    });
  });

  it('runs a cyclic rate and averages at the end of each cycle', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 1, learningRate: { max: 0.1, min: 0.02, cycleSteps: 4 }, swapAtEnd: false });
      const tiny = tinyLearner({ batches: 4, plugins: [averaging] });
      const recorder = recordEvents(undefined, { order: 100 });
      const weights = weightRecorder(tiny.variables, 'afterStep');
      await tiny.learner.fit(3, { plugins: [recorder.plugin, weights.plugin] });
      const rates = recorder.events.filter((e) => e.event === 'beforeStep' && e.epoch >= 1).map((e) => e.hypers.learningRate!);
      const cycle = [0.08, 0.06, 0.04, 0.02]; // (1 − t)·0.1 + t·0.02, t = 1/4 … 4/4
      rates.forEach((rate, index) => expect(rate).toBeCloseTo(cycle[index % 4]!, 12));
      expect(rates).toHaveLength(8);
      expect(averaging.averagedCount).toBe(2);
      const cycleEnds = weights.records.filter((r) => r.epoch >= 1 && r.batchIndex === 3).map((r) => r.weights);
      expect(readAverage(averaging)).toEqual(float32Mean(cycleEnds));
      averaging.dispose();
      tiny.dispose();
    });
  });

  it('declares no write without a learning rate, and a clash with another rate writer is refused', async () => {
    await expectNoLeak(async () => {
      expect(swa().writes).toBeUndefined();
      const scheduler = plugin('scheduler', { beforeBatch: (ctx) => void (ctx.hypers.learningRate = 0.1) }, { writes: ['hyper.learningRate'] });
      const clashing = swa({ learningRate: 0.05 });
      const tiny = tinyLearner({ batches: 2, plugins: [scheduler, clashing] });
      const { error } = await traceFit(tiny.learner, 1);
      expect(error).toBeInstanceOf(PluginConflictError);
      expect((error as PluginConflictError).target).toBe('hyper.learningRate');
      expect((error as PluginConflictError).plugins).toEqual(['scheduler', 'swa']);
      clashing.dispose();
      tiny.dispose();

      const plain = swa({ swapAtEnd: false });
      const compatible = tinyLearner({ batches: 2, plugins: [scheduler, plain] });
      expect((await traceFit(compatible.learner, 1)).error).toBeUndefined();
      plain.dispose();
      compatible.dispose();
    });
  });

  it('wins over a lower-priority scheduler during the averaging phase', async () => {
    await expectNoLeak(async () => {
      const scheduler = plugin(
        'scheduler',
        { beforeBatch: (ctx) => void (ctx.hypers.learningRate = 0.3) },
        { writes: ['hyper.learningRate'], priority: 0 }
      );
      const averaging = swa({ startEpoch: 1, learningRate: 0.05, priority: 1 });
      const recorder = recordEvents(undefined, { order: 100 });
      const tiny = tinyLearner({ batches: 1, plugins: [averaging, scheduler, recorder.plugin] });
      await tiny.learner.fit(2);
      const rates = recorder.events.filter((e) => e.event === 'beforeStep').map((e) => e.hypers.learningRate);
      expect(rates).toEqual([0.3, 0.05]);
      tiny.dispose();
    });
  });

  it('round-trips its state through JSON and continues the average after setState', async () => {
    await expectNoLeak(async () => {
      const first = swa({ startEpoch: 1, swapAtEnd: false });
      const tiny = tinyLearner();
      const recorder = weightRecorder(tiny.variables);
      await tiny.learner.fit(4, { plugins: [first, recorder.plugin] });
      const state = JSON.parse(JSON.stringify(first.getState()));
      expect(state.averagedCount).toBe(3);
      expect(state.phaseSteps).toBe(12);

      const second = swa({ startEpoch: 0, swapAtEnd: false });
      second.setState(state);
      expect(second.averagedCount).toBe(3);
      expect(readAverage(second)).toEqual(readAverage(first));
      await tiny.learner.fit(1, { plugins: [second, recorder.plugin] }); // continues: a 4th weight set
      expect(second.averagedCount).toBe(4);
      const all = recorder.records.filter((r, index) => index >= 1).map((r) => r.weights);
      expect(readAverage(second)).toEqual(float32Mean(all));

      await tiny.learner.fit(1, { plugins: [second] }); // a fit without setState starts afresh
      expect(second.averagedCount).toBe(1);
      expect(() => second.setState({ averagedCount: -1, phaseSteps: 0, sums: null })).toThrow(/state must be .*averagedCount is -1/);
      expect(() => second.setState('nope')).toThrow(/state must be .*received nope/);
      first.dispose();
      second.dispose();
      tiny.dispose();
    });
  });

  it('rejects bad options with errors that name the option and the value', () => {
    expect(() => swa({ startEpoch: -1 })).toThrow('startEpoch must be an integer ≥ 0 (received -1)');
    expect(() => swa({ startEpoch: 1.5 })).toThrow('startEpoch must be an integer ≥ 0 (received 1.5)');
    expect(() => swa({ frequency: 0 })).toThrow('frequency must be a positive integer number of steps (received 0)');
    expect(() => swa({ frequency: -2 })).toThrow(/frequency .*\(received -2\)/);
    expect(() => swa({ learningRate: 0 })).toThrow(/learningRate must be a positive number .*\(received 0\)/);
    expect(() => swa({ learningRate: { max: 0.1, min: 0.2, cycleSteps: 4 } })).toThrow(
      'learningRate.min must be a number in [0, learningRate.max = 0.1] (received 0.2)'
    );
    expect(() => swa({ learningRate: { max: 0.1, min: 0, cycleSteps: 0 } })).toThrow(/cycleSteps .*\(received 0\)/);
    expect(() => swa({ weights: 'some' as 'all' })).toThrow("weights must be 'trainable' or 'all' (received some)");
    expect(() => swa().apply()).toThrow(/apply\(\): no SWA average is held/);
  });

  it('trains a real small model: flat tensor count (leakGuard) and an accurate averaged model', async () => {
    await expectNoLeak(async () => {
      const averaging = swa({ startEpoch: 3, learningRate: { max: 0.2, min: 0.05, cycleSteps: 4 } });
      const tiny = tinyLearner({ batches: 4, leakGuard: true, plugins: [averaging] });
      const history = await tiny.learner.fit(6);
      expect(history.epochs).toHaveLength(6);
      expect(averaging.averagedCount).toBe(3); // 12 phase steps, one average per 4-step cycle
      const metrics = await tiny.learner.validate();
      expect(metrics.accuracy).toBeGreaterThanOrEqual(0.9);
      expect(metrics.loss).toBeLessThan(history.epochs[0]!.valid.loss!);
      tiny.dispose();
    });
  });
});

describe('swaLearningRateAt', () => {
  it('is constant for a number and falls linearly from max to min within each cycle', () => {
    expect(swaLearningRateAt(0.05, 17)).toBe(0.05);
    const rate = { max: 0.1, min: 0.02, cycleSteps: 4 };
    const expected = [0.08, 0.06, 0.04, 0.02, 0.08, 0.02];
    [0, 1, 2, 3, 4, 7].forEach((step, index) => expect(swaLearningRateAt(rate, step)).toBeCloseTo(expected[index]!, 12));
  });
});
