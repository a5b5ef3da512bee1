import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { labelCheck } from './label-check.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('labelCheck', () => {
  it("works where argMax of a 1-D tensor has shape [1] (tfjs-backend-webgpu's), not []", async () => {
    const argMax = tf.getKernel('ArgMax', 'cpu')!;
    // The cpu kernel made to answer as webgpu's does: the same value, shape [1].
    tf.unregisterKernel('ArgMax', 'cpu');
    tf.registerKernel({
      ...argMax,
      kernelFunc: (args) => {
        const out = argMax.kernelFunc(args) as tf.TensorInfo;
        return { ...out, shape: out.shape.length === 0 ? [1] : out.shape };
      },
    });
    try {
      const pred = tf.zeros([4, 3]);
      const y = tf.tensor1d([0, 2, 5, 1], 'int32');
      const before = tf.memory().numTensors;
      const check = labelCheck(pred, y, { argument: 'train', epoch: 0, batch: 0 });
      expect(check?.tensor.shape).toEqual([3]);
      expect(Array.from(await check!.tensor.data())).toEqual([1, 2, 5]);
      check!.tensor.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([pred, y]);
    } finally {
      tf.unregisterKernel('ArgMax', 'cpu');
      tf.registerKernel(argMax);
    }
  });
});
