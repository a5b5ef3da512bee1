import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { activationStats } from '@convkit/learner';
import { beforeAll, describe, expect, it } from 'vitest';
import { crashAndResume, linearRun, readEventFiles, temporaryFolder, valuesOf } from '../run.test-helpers.js';
import { tensorBoardLogger } from './tensorboard-logger.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tensorBoardLogger', () => {
  it('writes the run as TensorBoard shows a Keras run: step and epoch scalars, histograms, the curves image', async () => {
    const logdir = await temporaryFolder();
    const stats = activationStats({ every: 2, bins: 5 });
    const logger = tensorBoardLogger(logdir, { activations: stats, curvesEvery: 2, bins: 4, hostname: 'host' });
    let weightsAtEnd: number[] = [];
    await expectNoLeak(async () => {
      const run = linearRun([stats, logger]);
      await run.learner.fit(3);
      weightsAtEnd = [...(await run.variables[0]!.data()), ...(await run.variables[1]!.data())];
      run.dispose();
    });
    expect(logger.files.map((file) => file.slice(logdir.length + 1).replace(/\d{10}/, 'T'))).toEqual([
      'train/events.out.tfevents.T.host',
      'validation/events.out.tfevents.T.host',
    ]);
    expect((await readdir(logdir)).sort()).toEqual(['train', 'validation']);
    const read = await readEventFiles(logger.files);
    const train = read[logger.files[0]!]!;
    const validation = read[logger.files[1]!]!;
    expect(train[0]!.file_version).toBe('brain.Event:2');
    expect(validation[0]!.file_version).toBe('brain.Event:2');

    const batchLoss = valuesOf(train, 'batch_loss');
    expect(batchLoss.map((v) => v.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const rate = valuesOf(train, 'batch_learningRate');
    expect(rate.map((v) => v.value)).toEqual(new Array(12).fill(Math.fround(0.1)));
    const epochLoss = valuesOf(train, 'epoch_loss');
    expect(epochLoss.map((v) => v.step)).toEqual([4, 8, 12]);
    expect(valuesOf(train, 'epoch').map((v) => v.value)).toEqual([0, 1, 2]);
    expect(valuesOf(validation, 'epoch_loss').map((v) => v.step)).toEqual([4, 8, 12]);
    expect(valuesOf(validation, 'batch_loss')).toEqual([]);

    // Weight histograms at each epoch end; the last one describes the final weights.
    const weightTags = [...new Set(train.flatMap((e) => (e.values ?? []).map((v) => v.tag)).filter((t) => t.startsWith('weights/')))];
    expect(weightTags).toHaveLength(2);
    const lastWeights = weightTags.map((tag) => valuesOf(train, tag).at(-1)!);
    expect(lastWeights.map((h) => h.step)).toEqual([12, 12]);
    expect(lastWeights.map((h) => h.num)).toEqual([1, 1]);
    expect(lastWeights.map((h) => h.sum).sort()).toEqual([...weightsAtEnd].sort());
    expect(lastWeights.every((h) => h.bucket!.length === 4 && h.bucket!.reduce((a, c) => a + c, 0) === 1)).toBe(true);

    // The activation statistics plugin's gradient records (a function model has no layer outputs) at their steps.
    const gradientRecords = stats.records.filter((r) => r.kind === 'gradient');
    const gradientValues = train.flatMap((e) => (e.values ?? []).filter((v) => v.tag.startsWith('gradients/')).map((v) => ({ ...v, step: e.step })));
    expect(gradientValues.map((v) => [v.step, v.num])).toEqual(gradientRecords.map((r) => [r.step, r.count - r.nonFinite]));
    expect(gradientValues.map((v) => v.bucket)).toEqual(gradientRecords.map((r) => r.histogram.counts));
    expect(new Set(gradientValues.map((v) => v.step))).toEqual(new Set([0, 2, 4, 6, 8, 10]));

    // The learning-curve chart after epoch 2 (curvesEvery 2) and at the fit's end.
    const images = valuesOf(train, 'learning_curves');
    expect(images.map((v) => v.step)).toEqual([8, 12]);
    expect(images.every((v) => v.width! > 100 && v.height! > 100 && v.bytes! > 1000)).toBe(true);
  });

  it('records the losses and metrics of the history exactly (as float32)', async () => {
    const logdir = await temporaryFolder();
    const logger = tensorBoardLogger(logdir, { weightHistograms: 0, curvesEvery: 0, hostname: 'h' });
    const run = linearRun([logger]);
    const history = await run.learner.fit(2);
    run.dispose();
    const read = await readEventFiles(logger.files);
    const [train, validation] = logger.files.map((file) => read[file]!);
    expect(valuesOf(train!, 'batch_loss').map((v) => v.value)).toEqual(history.steps.map((s) => Math.fround(s.loss)));
    expect(valuesOf(train!, 'epoch_loss').map((v) => v.value)).toEqual(history.epochs.map((e) => Math.fround(e.train.loss!)));
    expect(valuesOf(validation!, 'epoch_loss').map((v) => v.value)).toEqual(history.epochs.map((e) => Math.fround(e.valid.loss!)));
    expect(train!.some((e) => (e.values ?? []).some((v) => v.kind !== 'simple_value'))).toBe(false);
  });

  it('starts new files with a session start at the checkpoint step on resume', async () => {
    const root = await temporaryFolder();
    const logdir = join(root, 'tb');
    const options = { weightHistograms: 0, curvesEvery: 0, hostname: 'h' };
    const { history, logger: resumedLogger } = await crashAndResume(root, () => tensorBoardLogger(logdir, options), { afterStep: 5 }, 3);
    const read = await readEventFiles(resumedLogger.files);
    const train = read[resumedLogger.files[0]!]!;
    // The checkpoint was taken after step 5: 6 steps done, epoch 0 (steps 0–3) complete and flushed before.
    expect(train[1]).toMatchObject({ what: 'session_log', status: 'START', step: 6 });
    expect(valuesOf(train, 'batch_loss').map((v) => v.step)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(valuesOf(train, 'epoch_loss').map((v) => [v.step, v.value])).toEqual(
      history.epochs.slice(1).map((e) => [e.step, Math.fround(e.train.loss!)]),
    );
  });

  it('rejects bad options with the value received', () => {
    expect(() => tensorBoardLogger('')).toThrow('logdir must be a non-empty path (received "")');
    expect(() => tensorBoardLogger('runs', { curvesEvery: -1 })).toThrow('curvesEvery must be a non-negative integer (received -1)');
    expect(() => tensorBoardLogger('runs', { flushEvery: 0 })).toThrow('flushEvery must be a positive integer number of steps (received 0)');
    expect(() => tensorBoardLogger('runs', { bins: 1.5 })).toThrow('bins must be a positive integer (received 1.5)');
    expect(() => tensorBoardLogger('runs', { activations: {} as never })).toThrow('activations must be an activationStats() plugin');
  });
});
