import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch, BatchSource } from './batch-source.js';
import { checkpoint } from './checkpoint.js';
import { macroF1 } from './classification-metrics.js';
import type { History } from './history.js';
import { Learner } from './learner.js';
import { accuracy } from './metrics.js';
import type { Plugin } from './plugin.js';
import { scratchDirectories } from './scratch.test-helpers.js';

const scratch = scratchDirectories('dropout');
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function buildModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

/** 4 fixed batches of 5 samples, the same every epoch. */
function source(): BatchSource {
  return {
    length: 4,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < 4; b++) {
        const x = Array.from({ length: 30 }, (_, i) => Math.sin(b * 31 + i * 0.7));
        yield { x: tf.tensor2d(x, [5, 6]), y: tf.tensor1d([0, 1, 2, (b + 1) % 3, b % 3], 'int32') };
      }
    },
  };
}

interface Run {
  history: History;
  weights: number[][];
}

async function run(plugins: Plugin[] = [], resume?: string, seed = 5): Promise<Run> {
  const model = buildModel();
  const learner = new Learner({
    model,
    loss: 'softmaxCrossEntropy',
    optimizer: tf.train.adam(0.01),
    metrics: [accuracy(), macroF1()],
    train: source(),
    seed,
    plugins,
  });
  let history: History;
  try {
    history = await learner.fit(3, resume === undefined ? {} : { resume });
  } catch (error) {
    history = learner.history;
    if (!(error instanceof Error) || !error.message.endsWith('simulated crash')) throw error;
  }
  const weights = await Promise.all(model.weights.map(async (w) => Array.from(await w.read().data())));
  learner.optimizer.dispose();
  model.dispose();
  return { history, weights };
}

describe('dropout from the learner seed', () => {
  it('gives two uninterrupted runs with the same seed equal weights, and another seed other weights', async () => {
    const first = await run();
    const second = await run();
    expect(second.weights).toEqual(first.weights);
    expect(second.history.steps.map((s) => s.loss)).toEqual(first.history.steps.map((s) => s.loss));
    const other = await run([], undefined, 6);
    expect(other.weights).not.toEqual(first.weights);
  });

  it('resumes mid-epoch bit for bit: weights, step losses and epoch metrics (running sums, confusion counts)', async () => {
    const reference = await run();
    const dir = scratch();
    const crash: Plugin = { name: 'crash', order: 90, afterBatch: (ctx) => { if (ctx.step === 6) throw new Error('simulated crash'); } };
    await run([checkpoint({ dir, every: { steps: 1 }, keepLast: 20 }), crash]);
    const resumed = await run([], path.join(dir, 'step-00000006')); // epoch 2, after its second batch
    expect(resumed.weights).toEqual(reference.weights);
    expect(resumed.history.steps.map((s) => s.loss)).toEqual(reference.history.steps.map((s) => s.loss));
    expect(resumed.history.epochs.map((e) => e.train)).toEqual(reference.history.epochs.map((e) => e.train));
  });
});
