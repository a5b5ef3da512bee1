import * as tf from '@tensorflow/tfjs';
import { availableBackends, expectNoLeak, withBackend } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { Learner } from './learner.js';
import { meanMetric } from './metrics.js';
import { plugin } from './plugin.js';
import { tinyLearner, traceFit } from './testing.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A re-iterable source yielding fresh copies of fixed batches. */
function source(
  batches: { x: number[][]; y: number[][] | number[] }[],
  yDtype: 'float32' | 'int32' = 'float32'
): BatchSource {
  return {
    length: batches.length,
    *[Symbol.iterator](): Iterator<Batch> {
      for (const b of batches) yield { x: tf.tensor2d(b.x), y: tf.tensor(b.y, undefined, yDtype) };
    },
  };
}

/** y = w·x with w = 1, one batch x = [1, 2], y = 0: loss (MSE) 2.5, dL/dw = 5. */
function scalarSetup(learningRate = 0.1) {
  const w = tf.tidy(() => tf.variable(tf.ones([1, 1])));
  const optimizer = tf.train.sgd(learningRate);
  const learner = new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'meanSquaredError',
    optimizer,
    train: source([{ x: [[1], [2]], y: [[0], [0]] }]),
  });
  return { w, learner, dispose: () => (w.dispose(), optimizer.dispose()) };
}

const BATCH_EVENTS = [
  'beforeBatch',
  'afterPred',
  'afterLoss',
  'afterBackward',
  'beforeStep',
  'afterStep',
  'afterBatch',
];

describe('Learner.fit event order', () => {
  it('fires the documented sequence for 2 epochs × 2 batches with validation', async () => {
    await expectNoLeak(async () => {
      const tiny = tinyLearner({ batches: 2, validBatches: 1 });
      const trace = await traceFit(tiny.learner, 2);
      tiny.dispose();
      const epoch = ['beforeEpoch', ...BATCH_EVENTS, ...BATCH_EVENTS, 'beforeValidate', 'afterValidate', 'afterEpoch'];
      expect(trace.error).toBeUndefined();
      expect(trace.names).toEqual(['beforeFit', ...epoch, ...epoch, 'afterFit']);
      const afterSteps = trace.events.filter((e) => e.event === 'afterStep');
      expect(afterSteps.map((e) => [e.epoch, e.batchIndex, e.step])).toEqual([
        [0, 0, 0],
        [0, 1, 1],
        [1, 0, 2],
        [1, 1, 3],
      ]);
      const validating = trace.events.filter((e) => !e.training).map((e) => e.event);
      expect(validating).toEqual(['beforeValidate', 'afterValidate', 'beforeValidate', 'afterValidate']);
      const backward = trace.events.find((e) => e.event === 'afterBackward')!;
      expect([backward.hasPred, backward.hasLoss, backward.gradCount, backward.batchShape]).toEqual([
        true,
        true,
        2,
        [8, 2],
      ]);
      const beforeBatch = trace.events.find((e) => e.event === 'beforeBatch')!;
      expect([beforeBatch.hasPred, beforeBatch.hasLoss, beforeBatch.gradCount]).toEqual([false, false, undefined]);
    });
  });

  it('runs plugins in a stable sort by order and describes the loop', async () => {
    await expectNoLeak(async () => {
      const calls: string[] = [];
      const make = (name: string, order?: number) =>
        plugin(name, { beforeEpoch: () => void calls.push(name) }, order === undefined ? {} : { order });
      const tiny = tinyLearner({
        batches: 1,
        validBatches: 0,
        plugins: [make('c', 5), make('a'), make('b', -5), make('d')],
      });
      await tiny.learner.fit(1);
      expect(calls).toEqual(['b', 'a', 'd', 'c']);
      const description = tiny.learner.describeLoop();
      expect(description.split('\n')[0]).toBe('beforeFit: —');
      expect(description).toContain('  beforeEpoch: b (-5), a (0), d (0), c (5)');
      expect(description).toContain('    afterBackward: —');
      expect(description).toContain('      beforeStep: —');
      tiny.dispose();
    });
  });
});

describe('Learner.fit hooks change what the loop owns', () => {
  it('takes the plain SGD step Δw = −lr·g', async () => {
    await expectNoLeak(async () => {
      const { w, learner, dispose } = scalarSetup();
      const history = await learner.fit(1);
      expect(w.dataSync()[0]).toBeCloseTo(0.5, 6);
      expect(history.steps).toEqual([{ step: 0, epoch: 0, batch: 0, loss: 2.5, hypers: { learningRate: 0.1 } }]);
      dispose();
    });
  });

  it('doubles the gradient when afterLoss doubles the loss', async () => {
    await expectNoLeak(async () => {
      const { w, learner, dispose } = scalarSetup();
      const double = plugin(
        'double',
        {
          afterLoss(ctx) {
            ctx.loss = tf.mul(ctx.loss!, 2) as tf.Scalar;
          },
        },
        { writes: ['loss'] }
      );
      const history = await learner.fit(1, { plugins: [double] });
      expect(w.dataSync()[0]).toBeCloseTo(1 - 0.1 * 10, 6);
      expect(history.steps[0]!.loss).toBeCloseTo(5, 6);
      dispose();
    });
  });

  it('leaves the weights unchanged when afterBackward zeroes the gradients', async () => {
    await expectNoLeak(async () => {
      const { w, learner, dispose } = scalarSetup();
      const zero = plugin('zero', {
        afterBackward(ctx) {
          ctx.grads = ctx.grads!.map(({ variable, gradient }) => ({ variable, gradient: tf.zerosLike(gradient) }));
        },
      });
      await learner.fit(1, { plugins: [zero] });
      expect(w.dataSync()[0]).toBe(1);
      dispose();
    });
  });

  it('uses hypers set in beforeStep for that very step, and records them', async () => {
    await expectNoLeak(async () => {
      const { w, learner, dispose } = scalarSetup();
      const seen: number[] = [];
      const slow = plugin(
        'slow',
        {
          beforeStep(ctx) {
            seen.push(ctx.hypers.learningRate!);
            ctx.hypers.learningRate = 0.01;
          },
        },
        { writes: ['hyper.learningRate'] }
      );
      const history = await learner.fit(2, { plugins: [slow] });
      // step 1: 1 − 0.01·5 = 0.95; step 2: g = 5·0.95 = 4.75 → 0.95 − 0.0475
      expect(w.dataSync()[0]).toBeCloseTo(0.95 - 0.0475, 6);
      expect(seen).toEqual([0.1, 0.01]);
      expect(history.steps.map((s) => s.hypers.learningRate)).toEqual([0.01, 0.01]);
      expect(history.epochs.map((e) => e.hypers.learningRate)).toEqual([0.01, 0.01]);
      dispose();
    });
  });

  it('trains on the batch that beforeBatch puts in place and disposes the replaced one', async () => {
    await expectNoLeak(async () => {
      const { w, learner, dispose } = scalarSetup();
      const replaced: tf.Tensor[] = [];
      const swap = plugin(
        'swap',
        {
          beforeBatch(ctx) {
            replaced.push(ctx.batch!.x);
            // x = [1, 2] becomes [2, 4]: loss 10, dL/dw = mean(2·w·x²) = 20
            ctx.batch = { x: tf.mul(ctx.batch!.x, 2), y: ctx.batch!.y };
          },
        },
        { writes: ['batch'] }
      );
      const history = await learner.fit(1, { plugins: [swap] });
      expect(history.steps[0]!.loss).toBeCloseTo(10, 6);
      expect(w.dataSync()[0]).toBeCloseTo(1 - 0.1 * 20, 6);
      expect(replaced[0]!.isDisposed).toBe(true);
      dispose();
    });
  });
});

describe.each(availableBackends())('Learner.fit on the %s backend', (backend) => {
  it('takes the exact SGD step and leaves no tensors behind', async () => {
    await withBackend(backend, () =>
      expectNoLeak(async () => {
        const { w, learner, dispose } = scalarSetup(0.1);
        const history = await learner.fit(2);
        // w: 1 → 1 − 0.1·5 = 0.5 → 0.5 − 0.1·2.5 = 0.25
        expect(w.dataSync()[0]).toBeCloseTo(0.25, 6);
        expect(history.steps.map((s) => s.loss)).toEqual([2.5, 0.625]);
        dispose();
      })
    );
  });
});

describe('Learner models', () => {
  it('fits a FunctionModel linear regression to y = 2x + 1', async () => {
    await expectNoLeak(async () => {
      const optimizer = tf.train.sgd(0.3);
      const tiny = tinyLearner({ task: 'regression', batches: 4, validBatches: 1, optimizer });
      const history = await tiny.learner.fit(40);
      const [w, b] = tiny.variables.map((v) => v.dataSync()[0]!);
      expect(w).toBeCloseTo(2, 2);
      expect(b).toBeCloseTo(1, 2);
      expect(history.epochs.at(-1)!.valid.loss).toBeLessThan(1e-4);
      expect(Object.keys(history.epochs[0]!.train)).toEqual(['loss']);
      tiny.dispose();
      optimizer.dispose();
    });
  });

  it('trains a tf.LayersModel classifier past 95% validation accuracy', async () => {
    await expectNoLeak(async () => {
      const model = tf.sequential({
        layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3 })],
      });
      const optimizer = tf.train.adam(0.05);
      // three classes: the class is the argmax of the first three features, the fourth is noise
      const make = (seed: number) => {
        const rows: number[][] = [];
        const labels: number[] = [];
        let state = seed;
        const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
        for (let i = 0; i < 96; i++) {
          const label = i % 3;
          const row = [next() * 0.5, next() * 0.5, next() * 0.5, next()];
          row[label]! += 1;
          rows.push(row);
          labels.push(label);
        }
        const batches = [0, 1, 2, 3].map((b) => ({
          x: rows.slice(b * 24, b * 24 + 24),
          y: labels.slice(b * 24, b * 24 + 24),
        }));
        return source(batches, 'int32');
      };
      const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: make(1), valid: make(2) });
      const history = await learner.fit(30);
      expect(history.epochs.at(-1)!.valid.accuracy).toBeGreaterThan(0.95);
      expect(history.epochs.at(-1)!.train.loss).toBeLessThan(history.epochs[0]!.train.loss!);
      optimizer.dispose();
      model.dispose();
    });
  });

  it('validate and predict match a direct forward pass', async () => {
    await expectNoLeak(async () => {
      const w = tf.tidy(() =>
        tf.variable(
          tf.tensor2d([
            [1, -1],
            [0.5, 2],
          ])
        )
      );
      const optimizer = tf.train.sgd(0.1);
      const forward = (x: tf.Tensor) => tf.matMul(x, w);
      const data = [
        {
          x: [
            [1, 0],
            [0, 1],
            [1, 1],
          ],
          y: [0, 1, 1],
        },
        { x: [[2, 1]], y: [0] },
      ];
      const learner = new Learner({
        model: { variables: [w], forward },
        loss: 'softmaxCrossEntropy',
        optimizer,
        train: source(data, 'int32'),
        valid: source(data, 'int32'),
        metrics: [meanMetric('meanLogit', (pred) => tf.mean(pred) as tf.Scalar)],
      });
      const allX = tf.tensor2d(data.flatMap((d) => d.x));
      const allY = tf.tensor1d(
        data.flatMap((d) => d.y),
        'int32'
      );
      const direct = forward(allX);
      const expectedLoss = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(allY, 2), direct).dataSync()[0]!);
      const expectedMean = tf.tidy(() => tf.mean(direct).dataSync()[0]!);
      const result = await learner.validate();
      expect(result.loss).toBeCloseTo(expectedLoss, 5);
      expect(result.meanLogit).toBeCloseTo(expectedMean, 5);
      const predicted = await learner.predict(source(data, 'int32'));
      expect(Array.from(predicted.dataSync())).toEqual(Array.from(direct.dataSync()));
      const fromTensor = await learner.predict(allX);
      expect(Array.from(fromTensor.dataSync())).toEqual(Array.from(direct.dataSync()));
      expect(allX.isDisposed).toBe(false);
      tf.dispose([predicted, fromTensor, allX, allY, direct, w]);
      optimizer.dispose();
    });
  });
});
