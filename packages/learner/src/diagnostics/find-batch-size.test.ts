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
  it('budget (cpu default): a real Adam step at the size it returns stays within the budget, one much larger does not', async () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10 }),
      ],
    });
    const weightsBefore = await Promise.all(m.weights.map((w) => w.read().data()));
    const budget = 2 * 2 ** 20;
    const report = await expectNoLeak(() => findBatchSize(m, { budgetBytes: budget }));
    expect(report.method).toBe('budget');
    expect(report.peakBytes!).toBeLessThanOrEqual(budget);
    expect(await Promise.all(m.weights.map((w) => w.read().data()))).toEqual(weightsBefore); // weights restored
    /** The peak of one real training step (forward, backward, Adam creating its slots) plus the weights. */
    const realPeak = async (batchSize: number): Promise<number> => {
      const adam = tf.train.adam(1e-3);
      const saved = m.weights.map((w) => w.read().clone());
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(m.apply(tf.zeros([batchSize, 16, 16, 1]), { training: true }) as tf.Tensor) as tf.Scalar);
        adam.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        tf.dispose([value, ...Object.values(grads)]);
      });
      adam.dispose();
      m.weights.forEach((w, k) => w.write(saved[k]!));
      tf.dispose(saved);
      return info.peakBytes - before + m.countParams() * 4;
    };
    expect(await realPeak(report.batchSize)).toBeLessThanOrEqual(budget);
    expect(await realPeak(Math.ceil(report.batchSize * 1.25) + 1)).toBeGreaterThan(budget);
    await expect(findBatchSize(m, { budgetBytes: 1000 })).rejects.toThrow(
      /^options\.budgetBytes is too small: one training step at batch 1 needs \d+ bytes on the cpu backend \(received 1000\)$/
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

  it('budget for a FunctionModel measures real steps too', async () => {
    const w = tf.tidy(() => tf.variable(tf.ones([256, 64])));
    const fn = { variables: [w], forward: (x: tf.Tensor) => tf.relu(tf.matMul(x, w)) };
    const report = await expectNoLeak(() => findBatchSize(fn, { inputShape: [256], budgetBytes: 2 ** 20, optimizerSlots: 0 }));
    // per sample at least the input (256 floats) and the output (64 floats)
    expect(report.perSampleBytes).toBeGreaterThanOrEqual(4 * (256 + 64));
    expect(report.fixedBytes).toBeGreaterThanOrEqual(4 * 256 * 64 * 2);
    expect(report.peakBytes!).toBeLessThanOrEqual(2 ** 20);
    expect(report.batchSize).toBeLessThanOrEqual(Math.floor((2 ** 20 - report.fixedBytes!) / report.perSampleBytes!));
    w.dispose();
  });

  it('names a bad option', async () => {
    await expect(findBatchSize(model(), { maxBatchSize: 0 })).rejects.toThrow('options.maxBatchSize must be a positive integer (received 0)');
    const fn = { variables: [], forward: (x: tf.Tensor) => x };
    await expect(findBatchSize(fn)).rejects.toThrow('options.inputShape must be a list of positive integers (received undefined)');
  });
});
