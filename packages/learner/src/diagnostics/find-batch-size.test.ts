import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { estimateTrainingBytes, findBatchSize } from './find-batch-size.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 4 → 10 → 3: activations 13 per sample, input 4, parameters 4·10 + 10 + 10·3 + 3 = 83. */
function model(): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.dense({ units: 10, inputShape: [4], activation: 'relu' }), tf.layers.dense({ units: 3 })],
  });
}

describe('estimateTrainingBytes', () => {
  it('counts activations and their gradients plus the input per sample, and weights, gradients and slots as fixed', () => {
    const m = model();
    expect(estimateTrainingBytes(m, 2)).toEqual({ perSampleBytes: 4 * (2 * 13 + 4), fixedBytes: 4 * 83 * 4 });
    expect(estimateTrainingBytes(m, 0).fixedBytes).toBe(4 * 83 * 2);
    m.dispose();
  });
});

describe('findBatchSize', () => {
  it('budget (cpu default): the largest batch with fixed + batch · perSample within the budget', async () => {
    const m = model();
    const budget = 1328 + 120 * 50;
    const exact = await expectNoLeak(() => findBatchSize(m, { budgetBytes: budget }));
    expect(exact).toMatchObject({ batchSize: 50, method: 'budget', perSampleBytes: 120, fixedBytes: 1328, budgetBytes: budget });
    expect((await findBatchSize(m, { budgetBytes: budget - 1 })).batchSize).toBe(49);
    expect((await findBatchSize(m, { budgetBytes: budget, maxBatchSize: 32 })).batchSize).toBe(32);
    await expect(findBatchSize(m, { budgetBytes: 1000 })).rejects.toThrow(
      'options.budgetBytes is too small: batch 1 needs about 1448 bytes (received 1000)'
    );
    m.dispose();
  });

  it('trial (webgl/webgpu default): doubles, then bisects to the exact limit of a step that runs out of memory above 37', async () => {
    const tried: number[] = [];
    const trial = (batchSize: number): void => {
      tried.push(batchSize);
      if (batchSize > 37) throw new Error(`Failed to allocate: out of memory for batch ${batchSize}`);
    };
    const report = await findBatchSize(model(), { backend: 'webgl', trial });
    expect(report.method).toBe('trial');
    expect(report.batchSize).toBe(37);
    expect(tried).toEqual([1, 2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]);
    expect(report.trials!.filter((t) => !t.ok).map((t) => t.batchSize)).toEqual([64, 48, 40, 38]);
  });

  it('trial: stops at maxBatchSize when everything fits, and rethrows errors that are not out-of-memory', async () => {
    const report = await findBatchSize(model(), { method: 'trial', trial: () => undefined, maxBatchSize: 100 });
    expect(report.batchSize).toBe(100);
    await expect(
      findBatchSize(model(), { method: 'trial', trial: () => { throw new Error('shape mismatch'); } })
    ).rejects.toThrow('shape mismatch');
    await expect(
      findBatchSize(model(), { method: 'trial', trial: () => { throw new Error('out of memory'); } })
    ).rejects.toThrow('no batch size fits: batch 1 failed with "out of memory"');
  });

  it('trial with the default step really trains the model at each size without leaking', async () => {
    const m = model();
    const report = await expectNoLeak(() => findBatchSize(m, { method: 'trial', maxBatchSize: 8 }));
    expect(report.trials!.map((t) => t.batchSize)).toEqual([1, 2, 4, 8]);
    m.dispose();
  });

  it('budget for a FunctionModel measures one step at batch 1 and 2', async () => {
    const w = tf.tidy(() => tf.variable(tf.ones([256, 64])));
    const fn = { variables: [w], forward: (x: tf.Tensor) => tf.relu(tf.matMul(x, w)) };
    const report = await expectNoLeak(() => findBatchSize(fn, { inputShape: [256], budgetBytes: 2 ** 22, optimizerSlots: 0 }));
    // per sample at least the input (256 floats) and the output (64 floats)
    expect(report.perSampleBytes).toBeGreaterThanOrEqual(4 * (256 + 64));
    expect(report.fixedBytes).toBeGreaterThanOrEqual(4 * 256 * 64 * 2);
    expect(report.batchSize).toBe(Math.floor((2 ** 22 - report.fixedBytes!) / report.perSampleBytes!));
    w.dispose();
  });

  it('names a bad option', async () => {
    await expect(findBatchSize(model(), { maxBatchSize: 0 })).rejects.toThrow('options.maxBatchSize must be a positive integer (received 0)');
    const fn = { variables: [], forward: (x: tf.Tensor) => x };
    await expect(findBatchSize(fn)).rejects.toThrow('options.inputShape must be a list of positive integers (received undefined)');
  });
});
