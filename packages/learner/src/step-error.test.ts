import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { checkpoint } from './checkpoint.js';
import { loadCheckpoint } from './checkpoint-load.js';
import { Learner } from './learner.js';
import { plugin } from './plugin.js';
import { scratchDirectories } from './scratch.test-helpers.js';
import { TrainingStepError } from './step-error.js';

const scratch = scratchDirectories('step-error');
beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('a backend error mid-fit', () => {
  it('names the backend, the position and the failing op, after the last checkpoint is intact', async () => {
    const dir = scratch();
    const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.2, -0.1], [0.05, 0.3]])));
    const train: BatchSource = {
      length: 3,
      *[Symbol.iterator](): Iterator<Batch> {
        for (let b = 0; b < 3; b++) yield { x: tf.fill([2, 2], b + 1), y: tf.tensor1d([0, 1], 'int32') };
      },
    };
    const relu = tf.getKernel('Relu', 'cpu')!;
    const deviceLost = () => {
      throw new Error('device lost');
    };
    // the kernel fails from step 4 on, as a GPU lost mid-training would
    const lose = plugin('lose', {
      beforeBatch(ctx) {
        if (ctx.step !== 4) return;
        tf.unregisterKernel('Relu', 'cpu');
        tf.registerKernel({ ...relu, kernelFunc: deviceLost });
      },
    });
    const learner = new Learner({
      model: { variables: [w], forward: (x) => tf.relu(tf.matMul(x, w)) },
      loss: 'softmaxCrossEntropy',
      optimizer: tf.train.sgd(0.1),
      train,
      plugins: [checkpoint({ dir, every: { steps: 1 } }), lose],
    });
    try {
      const error = await learner.fit(3).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TrainingStepError);
      expect((error as Error).message).toBe(
        'the forward and backward pass failed at epoch 2, batch 1 (step 4) on the cpu backend, in op relu: device lost'
      );
      expect(error).toMatchObject({ backend: 'cpu', op: 'relu', epoch: 1, batch: 1, step: 4 });
      expect(((error as Error).cause as Error).message).toBe('device lost');
    } finally {
      tf.unregisterKernel('Relu', 'cpu');
      tf.registerKernel(relu);
    }
    const latest = await loadCheckpoint(dir);
    expect(latest.state.position).toMatchObject({ step: 4, epoch: 1, batch: 1 });
    expect(learner.history.stopReason).toMatch(/^error: the forward and backward pass failed at epoch 2, batch 1/);
    w.dispose();
    learner.optimizer.dispose();
  });
});
