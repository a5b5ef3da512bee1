import * as tf from '@tensorflow/tfjs';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { checkpoint } from './checkpoint.js';
import { loadCheckpoint } from './checkpoint-load.js';
import { Learner } from './learner.js';
import { plugin } from './plugin.js';
import { scratchDirectories } from './scratch.test-helpers.js';
import { TrainingStepError } from './step-error.js';

// core's health check, made to report a failed GPU allocation on demand (the cpu backend has no device to lose;
// the webgpu integration tests destroy a real one).
const health = vi.hoisted(() => ({ failing: false, calls: [] as string[] }));
vi.mock('@convkit/core', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@convkit/core')>()),
  assertBackendHealthy: (where?: string): void => {
    health.calls.push(where ?? '');
    if (!health.failing) return;
    health.failing = false;
    throw new Error(`webgpu backend: out of GPU memory: buffer too large (at ${where})`);
  },
}));

const scratch = scratchDirectories('backend-health');
beforeAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  health.failing = false;
  health.calls = [];
});

const train: BatchSource = {
  length: 3,
  *[Symbol.iterator](): Iterator<Batch> {
    for (let b = 0; b < 3; b++) yield { x: tf.fill([2, 2], b + 1), y: tf.tensor1d([0, 1], 'int32') };
  },
};

function learnerWith(w: tf.Variable, plugins: Parameters<typeof plugin>[] = [], dir?: string): Learner {
  return new Learner({
    model: { variables: [w], forward: (x) => tf.matMul(x, w) },
    loss: 'softmaxCrossEntropy',
    optimizer: tf.train.sgd(0.1),
    train,
    plugins: [...(dir === undefined ? [] : [checkpoint({ dir, every: { steps: 1 } })]), ...plugins.map((args) => plugin(...args))],
  });
}

describe("fit checks the backend's health after each loss read", () => {
  it('once per epoch, naming the last step and its input shape', async () => {
    const w = tf.variable(tf.tensor2d([[0.2, -0.1], [0.05, 0.3]]));
    const learner = learnerWith(w);
    await learner.fit(2);
    expect(health.calls).toEqual(['step 2, input [2, 2]', 'step 5, input [2, 2]']);
    w.dispose();
    learner.optimizer.dispose();
  });

  it('stops the fit at the epoch-end read with a TrainingStepError naming the backend, the step and the input', async () => {
    const w = tf.variable(tf.tensor2d([[0.2, -0.1], [0.05, 0.3]]));
    const learner = learnerWith(w, [['fail', { beforeBatch: (ctx) => void (health.failing ||= ctx.step === 1) }]]);
    const before = tf.memory().numTensors;
    const error = await learner.fit(2).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TrainingStepError);
    expect((error as Error).message).toBe(
      'the device read after the step failed at epoch 1, batch 2 (step 2) on the cpu backend: webgpu backend: out of GPU memory: buffer too large (at step 2, input [2, 2])'
    );
    expect(error).toMatchObject({ backend: 'cpu', epoch: 0, batch: 2, step: 2 });
    expect(learner.history.stopReason).toBe(`error: ${(error as Error).message}`);
    expect(learner.history.epochs).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
    learner.optimizer.dispose();
  });

  it("also when a checkpoint's read finds the failure: the fit's error, and the checkpoints before it intact", async () => {
    const dir = scratch();
    const w = tf.variable(tf.tensor2d([[0.2, -0.1], [0.05, 0.3]]));
    const learner = learnerWith(w, [['fail', { beforeBatch: (ctx) => void (health.failing ||= ctx.step === 4) }]], dir);
    const error = await learner.fit(3).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TrainingStepError);
    expect((error as Error).message).toMatch(/^the device read after the step failed at epoch 2, batch 1 \(step 4\) on the cpu backend: .* \(at step 4, input \[2, 2\]\)$/);
    const latest = await loadCheckpoint(dir);
    expect(latest.state.position).toMatchObject({ step: 4, epoch: 1, batch: 1 });
    w.dispose();
    learner.optimizer.dispose();
  });
});
