// The whole convkit training loop on webgpu against the cpu backend (tfjs's pure-JS reference): the learner with
// metrics, every optimizer, schedules, augmentation, a sampler, TTA, pseudolabeling, diagnostics, checkpoints with
// exact resume, and a lost device. Each run on either backend leaves no tensor behind and reads nothing
// synchronously. Runs when Dawn finds an adapter (lavapipe in CI); says so plainly otherwise.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { backendDeviceError, createRng, describeAdapter, initBackend, probeWebGpu } from '@convkit/core';
import { relativeError } from '@convkit/core/testing';
import {
  Learner,
  TrainingStepError,
  accuracy,
  activationStats,
  checkpoint,
  gradientAccumulation,
  gradientClipping,
  loadCheckpointWeights,
  macroF1,
  nanGuard,
  plugin,
  CancelFit,
  type BatchSource,
  type Plugin,
} from '@convkit/learner';
import { adadelta, adagrad, adam, adamW, rmsprop, sgd, type Optimizer } from '@convkit/optim';
import { cosineAnnealing, oneCycle, reduceLROnPlateau } from '@convkit/schedule';
import { batchAffine, batchColor, batchCutout, batchFlip, batchNoise, batchTransform, compose, cutmix, mixBatch, mixPlugin, mixup } from '@convkit/augment';
import { createImageDataset, DataLoader } from '@convkit/data';
import { WeightedRandomSampler } from '@convkit/sampling';
import { d4, withTTA } from '@convkit/tta';
import { pseudoLabelRounds } from '@convkit/pseudolabel';
import {
  BATCH,
  CLASSES,
  SHAPE,
  TOLERANCE,
  allowSyncReads,
  buildModel,
  checked,
  forbidSyncReads,
  makeData,
  onCpuAndWebGpu,
  source,
  take,
  weightsOf,
} from './loop.test-helpers.js';

const gpu = await probeWebGpu();

/** Expects every array of `actual` within `tolerance` relative error of `reference`'s. */
function expectClose(reference: ArrayLike<number>[], actual: ArrayLike<number>[], what: string, tolerance = TOLERANCE): void {
  expect(actual.length, what).toBe(reference.length);
  reference.forEach((values, i) => expect(relativeError(values, actual[i] as ArrayLike<number>), `${what} ${i}`).toBeLessThan(tolerance));
}

/** Fits a fresh model with `optimizer()` for `epochs`; returns the per-step losses and hypers and the final weights. */
async function fitRun(options: {
  optimizer: () => Optimizer | tf.Optimizer;
  epochs?: number;
  plugins?: () => Plugin[];
  valid?: boolean;
  train?: () => BatchSource;
}): Promise<{ losses: number[]; rates: number[]; valid: number[]; weights: Float32Array[] }> {
  const model = buildModel();
  const optimizer = options.optimizer();
  const learner = new Learner({
    model,
    loss: 'softmaxCrossEntropy',
    optimizer,
    train: options.train?.() ?? source(2, 1),
    valid: options.valid === true ? source(1, 2) : undefined,
    plugins: options.plugins?.() ?? [],
    seed: 3,
  });
  const history = await learner.fit(options.epochs ?? 2);
  const weights = await weightsOf(model);
  optimizer.dispose();
  model.dispose();
  return {
    losses: history.steps.map((step) => step.loss),
    rates: history.steps.map((step) => step.hypers['learningRate'] ?? Number.NaN),
    valid: history.epochs.map((epoch) => epoch.valid['loss'] ?? Number.NaN),
    weights,
  };
}

// Test files share one process and one tfjs engine: leave the next file on cpu, not on webgpu.
afterAll(async () => {
  allowSyncReads();
  await tf.setBackend('cpu');
});

if (gpu.status === 'ok') {
  describe(`the training loop on webgpu (${describeAdapter(gpu.adapter)}) against cpu`, () => {
    beforeAll(() => forbidSyncReads());

    it('the harness counts and refuses a synchronous read, and sees a leaked tensor', async () => {
      await initBackend({ backend: 'webgpu', log: false });
      const t = tf.scalar(1);
      await expect(checked(async () => t.dataSync())).rejects.toThrow(/dataSync\(\) is forbidden/);
      let leaked: tf.Tensor | undefined;
      await expect(
        checked(async () => {
          leaked = tf.scalar(2);
        }),
      ).rejects.toThrow(/tensors left behind on webgpu/);
      tf.dispose([t, leaked as tf.Tensor]);
    });

    it('Learner fit, evaluate and predict with metrics', async () => {
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const model = buildModel();
        const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
        const learner = new Learner({
          model,
          loss: 'softmaxCrossEntropy',
          optimizer,
          train: source(2, 1),
          valid: source(1, 2),
          metrics: [accuracy(), macroF1({ numClasses: CLASSES })],
          seed: 3,
        });
        const history = await learner.fit(2);
        const evaluated = await learner.validate(source(2, 4));
        const { images } = makeData(BATCH, 5);
        const x = tf.tensor4d(images, [BATCH, ...SHAPE]);
        const predicted = await take(await learner.predict(x));
        x.dispose();
        const weights = await weightsOf(model);
        optimizer.dispose();
        model.dispose();
        return { history, evaluated, predicted, weights };
      });
      const losses = (h: typeof cpu.history): number[] => h.steps.map((s) => s.loss);
      expectClose([losses(cpu.history)], [losses(webgpu.history)], 'step losses');
      expect(webgpu.history.epochs.map((e) => e.train['accuracy'])).toEqual(cpu.history.epochs.map((e) => e.train['accuracy']));
      expect(webgpu.history.epochs.map((e) => e.valid['macroF1'])).toEqual(cpu.history.epochs.map((e) => e.valid['macroF1']));
      expectClose([[cpu.evaluated['loss'] as number]], [[webgpu.evaluated['loss'] as number]], 'evaluate loss');
      expect(webgpu.evaluated['accuracy']).toBe(cpu.evaluated['accuracy']);
      expectClose([cpu.predicted], [webgpu.predicted], 'predict');
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    const OPTIMIZERS: { name: string; make: () => Optimizer }[] = [
      { name: 'SGD', make: () => sgd({ learningRate: 0.1 }) },
      { name: 'SGD with momentum', make: () => sgd({ learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3 }) },
      { name: 'Nesterov', make: () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }) },
      { name: 'Adam', make: () => adam({ learningRate: 1e-2 }) },
      { name: 'AdamW', make: () => adamW({ learningRate: 1e-2, weightDecay: 1e-2 }) },
      { name: 'Adadelta', make: () => adadelta({ learningRate: 1 }) },
      { name: 'Adagrad', make: () => adagrad({ learningRate: 1e-1 }) },
      { name: 'RMSprop', make: () => rmsprop({ learningRate: 1e-2, momentum: 0.5, centered: true }) },
    ];
    it.each(OPTIMIZERS)('$name: 8 steps land where cpu lands', async ({ make }) => {
      const { cpu, webgpu } = await onCpuAndWebGpu(() => fitRun({ optimizer: make, epochs: 4 }));
      expectClose([cpu.losses], [webgpu.losses], 'step losses');
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    const SCHEDULES: { name: string; plugins: () => Plugin[] }[] = [
      { name: 'oneCycle', plugins: () => [oneCycle({ maxLearningRate: 0.2 })] },
      { name: 'cosineAnnealing', plugins: () => [cosineAnnealing({ minLearningRate: 1e-3 })] },
      { name: 'reduceLROnPlateau', plugins: () => [reduceLROnPlateau({ patience: 0, factor: 0.5, threshold: 10 })] },
    ];
    it.each(SCHEDULES)('schedule $name: the same rates and weights as cpu', async ({ plugins }) => {
      const { cpu, webgpu } = await onCpuAndWebGpu(() =>
        fitRun({ optimizer: () => sgd({ learningRate: 0.1, momentum: 0.9 }), epochs: 3, plugins, valid: true }),
      );
      expect(new Set(webgpu.rates).size, 'the schedule changed the rate').toBeGreaterThan(1);
      expectClose([cpu.rates], [webgpu.rates], 'learning rates', 1e-6);
      expectClose([cpu.losses], [webgpu.losses], 'step losses');
      expectClose([cpu.valid], [webgpu.valid], 'valid losses');
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    it('seeded tensor augmentations, mixup and cutmix give cpu’s images and labels', async () => {
      const { images, labels } = makeData(BATCH, 6);
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const x = tf.tensor4d(images, [BATCH, ...SHAPE]);
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat());
        const augment = batchTransform(
          compose([batchFlip(), batchAffine({ degrees: 20, zoom: 0.1, shift: 0.1 }), batchColor(), batchNoise({ std: 0.1 }), batchCutout({ size: 0.4 })]),
        );
        const out: Float32Array[] = [await take(augment(x, createRng(7)))];
        for (const transform of [mixup({ alpha: 0.4 }), cutmix({ alpha: 1 })]) {
          const mixed = mixBatch(transform, { x, y }, createRng(8));
          out.push(await take(mixed.x as tf.Tensor), await take(mixed.y as tf.Tensor));
        }
        tf.dispose([x, y]);
        return out;
      });
      expectClose(cpu, webgpu, 'augmented tensor');
    });

    it('mixPlugin(mixup) in a fit on one-hot labels', async () => {
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const model = buildModel();
        const optimizer = sgd({ learningRate: 0.1 });
        const learner = new Learner({ model, loss: 'categoricalCrossEntropy', optimizer, train: source(2, 1, true), plugins: [mixPlugin(mixup())], seed: 3 });
        const history = await learner.fit(2);
        const weights = await weightsOf(model);
        optimizer.dispose();
        model.dispose();
        return { losses: history.steps.map((s) => s.loss), weights };
      });
      expectClose([cpu.losses], [webgpu.losses], 'step losses');
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    it('a WeightedRandomSampler through a DataLoader', async () => {
      const { images, labels } = makeData(12, 9);
      const dataset = createImageDataset({
        images: Uint8Array.from(images, (v) => Math.max(0, Math.min(255, Math.round(v * 100 + 100)))),
        labels,
        shape: [...SHAPE],
      });
      const { cpu, webgpu } = await onCpuAndWebGpu(() =>
        fitRun({
          optimizer: () => adam({ learningRate: 1e-2 }),
          train: () =>
            new DataLoader(dataset, { batchSize: BATCH, labels: 'index', seed: 4, sampler: new WeightedRandomSampler({ labels, numSamples: 8 }) }),
        }),
      );
      expect(cpu.losses.length).toBe(4);
      expectClose([cpu.losses], [webgpu.losses], 'step losses');
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    it('TTA (d4, probabilities) predicts what cpu predicts', async () => {
      const { images } = makeData(BATCH, 10);
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const model = buildModel();
        const x = tf.tensor4d(images, [BATCH, ...SHAPE]);
        const tta = withTTA(model, d4(), { merge: 'mean', output: 'probabilities' });
        const out = await take(tta.predict(x));
        x.dispose();
        model.dispose();
        return out;
      });
      expectClose([cpu], [webgpu], 'TTA probabilities');
    });

    it('one pseudolabel round (refine) keeps and trains on the same pseudo-labels', async () => {
      const bytes = (rows: number, seed: number): { images: Uint8Array; labels: Int32Array } => {
        const { images, labels } = makeData(rows, seed);
        return { images: Uint8Array.from(images, (v) => Math.max(0, Math.min(255, Math.round(v * 100 + 100)))), labels };
      };
      const labeled = createImageDataset({ ...bytes(8, 11), shape: [...SHAPE] });
      const pool = bytes(8, 12);
      const unlabeled = createImageDataset({ ...pool, shape: [...SHAPE] });
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const { model, rounds } = await pseudoLabelRounds<tf.LayersModel>({
          labeled,
          unlabeled,
          rounds: 1,
          mode: 'refine',
          threshold: 0.34,
          ratio: [1, 1],
          unlabeledLabels: pool.labels,
          now: () => 0,
          train: async ({ dataset, previous }) => {
            const net = previous ?? buildModel();
            const optimizer = sgd({ learningRate: 0.1 });
            await new Learner({ model: net, loss: 'softmaxCrossEntropy', optimizer, train: new DataLoader(dataset, { batchSize: BATCH, labels: 'index', seed: 1 }), seed: 2 }).fit(2);
            optimizer.dispose();
            return net;
          },
        });
        const weights = await weightsOf(model);
        model.dispose();
        return { rounds, weights };
      });
      expect(webgpu.rounds).toEqual(cpu.rounds);
      expect(cpu.rounds[1]?.kept).toBeGreaterThan(0);
      expectClose(cpu.weights, webgpu.weights, 'weight');
    });

    it('diagnostics: activation statistics, NaN guard, gradient clipping and accumulation', async () => {
      const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
        const stats = activationStats({ every: 1, bins: 4 });
        const guard = nanGuard();
        const run = await fitRun({ optimizer: () => sgd({ learningRate: 0.5 }), epochs: 2, plugins: () => [stats, guard, gradientClipping({ norm: 0.5 }), gradientAccumulation(2)] });
        expect(guard.report).toBeUndefined();
        // The guard on a batch with a NaN pixel: the same report on both backends.
        const bad = nanGuard();
        const model = buildModel();
        const optimizer = sgd({ learningRate: 0.1 });
        const poisoned: BatchSource = {
          length: 1,
          *[Symbol.iterator]() {
            const { images, labels } = makeData(BATCH, 13);
            images[5] = Number.NaN;
            yield { x: tf.tensor4d(images, [BATCH, ...SHAPE]), y: tf.tensor1d(labels, 'int32') };
          },
        };
        const history = await new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: poisoned, plugins: [bad] }).fit(1);
        optimizer.dispose();
        model.dispose();
        const records = stats.records.map(({ layer: _layer, variable: _variable, ...numbers }) => numbers);
        return { run, records, report: bad.report?.kind, stopReason: (history.stopReason ?? '').replace(/\d+(?=")/g, '') };
      });
      expect(webgpu.report).toBe('non-finite-input');
      expect(webgpu.stopReason).toBe(cpu.stopReason);
      expect(webgpu.records.length).toBe(cpu.records.length);
      expect(cpu.records.length).toBeGreaterThan(0);
      cpu.records.forEach((record, i) => {
        const other = webgpu.records[i]!;
        expect({ ...other, mean: 0, std: 0, min: 0, max: 0, histogram: undefined }).toEqual({ ...record, mean: 0, std: 0, min: 0, max: 0, histogram: undefined });
        expectClose([[record.mean, record.std, record.min, record.max]], [[other.mean, other.std, other.min, other.max]], `stats ${i}`);
      });
      expectClose([cpu.run.losses], [webgpu.run.losses], 'step losses');
      expectClose(cpu.run.weights, webgpu.run.weights, 'weight');
    });

    it('a fit resumed from a mid-epoch checkpoint equals the uninterrupted fit on webgpu, bit for bit', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'convkit-webgpu-resume-'));
      try {
        const make = (): Learner & { model: tf.LayersModel; optimizer: Optimizer } => {
          const model = buildModel();
          const optimizer = adam({ learningRate: 1e-2 });
          const train = source(3, 1, true);
          return Object.assign(new Learner({ model, loss: 'categoricalCrossEntropy', optimizer, train, plugins: [mixPlugin(mixup())], seed: 3 }), { model, optimizer });
        };
        const release = (learner: ReturnType<typeof make>): void => {
          learner.optimizer.dispose();
          learner.model.dispose();
        };
        const { cpu, webgpu } = await onCpuAndWebGpu(async () => {
          const whole = make();
          await whole.fit(3);
          const uninterrupted = await weightsOf(whole.model);
          release(whole);
          await rm(dir, { recursive: true, force: true });
          const first = make();
          const stopAt5: Plugin = plugin('stop', {
            beforeBatch(ctx) {
              if (ctx.step === 5) throw new CancelFit('interrupted');
            },
          });
          await first.fit(3, { plugins: [checkpoint({ dir, every: { steps: 2 } }), stopAt5] });
          release(first);
          const again = make();
          await again.fit(3, { resume: dir });
          const resumed = await weightsOf(again.model);
          const steps = again.stepCount;
          release(again);
          return { uninterrupted, resumed, steps };
        });
        expect(webgpu.steps).toBe(9);
        webgpu.uninterrupted.forEach((weights, i) => expect(webgpu.resumed[i], `weight ${i}`).toEqual(weights));
        expectClose(cpu.uninterrupted, webgpu.uninterrupted, 'weight');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('a lost device stops fit with an error naming the backend, the step and the input shape; the last checkpoint is intact', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'convkit-webgpu-lost-'));
      try {
        await initBackend({ backend: 'webgpu', log: false });
        const model = buildModel();
        const optimizer = sgd({ learningRate: 0.1 });
        let savedAtStep3: Float32Array[] = [];
        const destroyAtStep3: Plugin = plugin('destroy', {
          async beforeBatch(ctx) {
            if (ctx.step !== 3) return;
            savedAtStep3 = await weightsOf(model);
            (tf.backend() as unknown as { device: { destroy(): void } }).device.destroy();
          },
        });
        const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train: source(4, 1), plugins: [checkpoint({ dir, every: { steps: 1 } }), destroyAtStep3], seed: 3 });
        const failure = await learner.fit(2).catch((error: unknown) => error);
        optimizer.dispose();
        model.dispose();
        expect(failure).toBeInstanceOf(TrainingStepError);
        const error = failure as TrainingStepError;
        expect(error.backend).toBe('webgpu');
        expect(error.step).toBe(3);
        expect(error.message).toMatch(
          /^the device read after the step failed at epoch 1, batch 3 \(step 3\) on the webgpu backend: webgpu backend: the GPU device was lost \(destroyed: .*\) \(at step 3, input \[4, 8, 8, 1\]\)$/,
        );
        expect(learner.history.stopReason).toBe(`error: ${error.message}`);
        expect(backendDeviceError()).toBeDefined();
        // The checkpoints of steps 1–3 were written before the loss; none after.
        expect((await readdir(dir)).filter((name) => name.startsWith('step-')).sort()).toEqual(['step-00000001', 'step-00000002', 'step-00000003']);
        await initBackend({ backend: 'webgpu', log: false });
        const restored = buildModel();
        await checked(async () => {
          await loadCheckpointWeights(restored, join(dir, 'step-00000003'));
        });
        (await weightsOf(restored)).forEach((weights, i) => expect(weights, `weight ${i}`).toEqual(savedAtStep3[i]));
        restored.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
} else {
  describe('the training loop on webgpu against cpu', () => {
    it('is not run: Dawn offers no WebGPU adapter here', () => {
      console.log(`webgpu training-loop tests NOT RUN: ${gpu.detail}`);
      expect(gpu.status).not.toBe('ok');
    });
  });
}
