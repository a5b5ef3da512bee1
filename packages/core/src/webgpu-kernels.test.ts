// convkit's webgpu kernels against the cpu backend; runs when Dawn finds an adapter and says so plainly otherwise.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';
import { normals, randomConvCase, size, type ConvCase } from './conv-cases.test-helpers.js';
import { listKernelAssignments, withKernelProviders } from './kernel-registry.js';
import { createRng } from './rng.js';
import { relativeError } from './testing.js';
import { describeAdapter, probeWebGpu } from './webgpu-backend.js';

const gpu = await probeWebGpu();
const rng = createRng(77);
// Undilated cases only: tfjs's cpu gradient (the reference) refuses dilation > 1.
const CASES = Array.from({ length: 15 }, (_, i) => randomConvCase(rng, i, 6, 6)).filter((c) => c.dilations[0] === 1);

/** The filter gradient of `sum(conv2d(x, w) · dy)` through the registered `Conv2DBackpropFilter`, read with `await data()`. */
async function filterGradient(c: ConvCase, x: Float32Array, dy: Float32Array, dyShape: number[]): Promise<Float32Array> {
  const xs = tf.tensor4d(x, c.xShape);
  const dys = tf.tensor(dy, dyShape);
  const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filterShape };
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xs, dy: dys }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const values = (await dw.data()) as Float32Array;
  tf.dispose([xs, dys, dw]);
  return values;
}

// Test files share one process and one tfjs engine: leave the next file on cpu, not on webgpu.
afterAll(async () => {
  await tf.setBackend('cpu');
});

if (gpu.status === 'ok') {
  describe(`convkit's webgpu kernels (${describeAdapter(gpu.adapter)})`, () => {
    it('serve Conv2DBackpropFilter on webgpu, over the stock kernel', async () => {
      await initBackend({ backend: 'webgpu', log: false });
      expect(listKernelAssignments('webgpu')).toEqual([
        { backend: 'webgpu', kernel: 'Conv2DBackpropFilter', servedBy: 'webgpu-kernels', fallbacks: ['stock'] },
      ]);
    });

    it.each(CASES.map((c, i) => [i, c] as const))('case %i: Conv2DBackpropFilter matches cpu, as the stock kernel does', async (_i, c) => {
      const x = normals(rng, size(c.xShape));
      const outShape = tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.strides, 1, c.pad).outShape;
      const dy = normals(rng, size(outShape));
      await tf.setBackend('cpu');
      const reference = await filterGradient(c, x, dy, outShape);
      await initBackend({ backend: 'webgpu', log: false });
      const before = tf.memory().numTensors;
      const convkit = await filterGradient(c, x, dy, outShape);
      const stock = await withKernelProviders({ only: [] }, () => filterGradient(c, x, dy, outShape));
      expect(tf.memory().numTensors).toBe(before);
      expect(relativeError(reference, convkit), JSON.stringify(c)).toBeLessThan(1e-4);
      expect(relativeError(reference, stock), JSON.stringify(c)).toBeLessThan(1e-4);
    });
  });
} else {
  describe("convkit's webgpu kernels", () => {
    it('are not run: Dawn offers no WebGPU adapter here', () => {
      console.log(`webgpu kernel tests NOT RUN: ${gpu.detail}`);
      expect(gpu.status).not.toBe('ok');
    });
  });
}
