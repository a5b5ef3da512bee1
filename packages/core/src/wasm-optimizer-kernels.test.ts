import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadNative } from '@convkit/native';
import './wasm-backend.js';
import { getKernelProvider, listKernelAssignments, listKernelProviders, withKernelProviders } from './kernel-registry.js';
import { expectNoLeak } from './testing.js';
import { heapMemory } from './wasm-heap.js';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import { registerNativeKernels } from './wasm-native.js';
import {
  FUSED_ADAM_KERNEL,
  FUSED_SGD_KERNEL,
  NATIVE_OPTIMIZER_PROVIDER_NAME,
  WASM_OPTIMIZER_PROVIDER,
  registerNativeOptimizerKernels,
  registerWasmOptimizerKernels,
} from './wasm-optimizer-kernels.js';

// The kernels' bit-identity with @convkit/optim's per-variable ops is tested in packages/optim (fused-step.test.ts);
// here: the registration, the contract's errors, and the C++ and WebAssembly loops agreeing bit for bit.
const values = (size: number, seed: number): Float32Array =>
  Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 10 ** ((i % 5) - 3));
const bits = (array: Float32Array): number[] => Array.from(new Uint32Array(array.buffer, array.byteOffset, array.length));

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
  registerWasmOptimizerKernels();
  registerNativeKernels(loadNative(), 1);
});

/** Runs `kernel` on fresh inputs (`slots` per variable) and returns every output's values; frees everything. */
async function run(kernel: string, slots: string[][], attrs: Record<string, unknown>): Promise<Float32Array[]> {
  const inputs: tf.NamedTensorMap = {};
  const shapes = [[7, 5], [33]];
  slots.forEach((names, v) => {
    for (const [k, name] of ['variable', 'gradient', ...names].entries()) {
      const data = values(tf.util.sizeFromShape(shapes[v]!), 10 * v + k);
      inputs[`${name}${v}`] = tf.tensor(name.endsWith('Sq') ? data.map(Math.abs) : data, shapes[v]);
    }
  });
  const outputs = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor[];
  const read = await Promise.all(outputs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...Object.values(inputs), ...outputs]);
  return read;
}

const ADAM = {
  count: 2,
  amsgrad: true,
  decoupled: false,
  weightScale: [1, 1],
  weightDecay: [0.01, 0],
  beta1: [0.9, 0.8],
  oneMinusBeta1: [0.1, 0.2],
  beta2: [0.999, 0.99],
  oneMinusBeta2: [0.001, 0.01],
  negativeStepSize: [-0.01, -0.003],
  sqrtBiasCorrection2: [0.0447, 0.1],
  epsilon: [1e-8, 1e-6],
};
const SGD = { count: 2, nesterov: true, weightDecay: [5e-4, 0], momentum: [0.9, 0.5], oneMinusDampening: [1, 1], negativeLearningRate: [-0.1, -0.01] };

describe('registerWasmOptimizerKernels', () => {
  it('serves five kernels from the WebAssembly loops, Adam and SGD under the C++ ones of @convkit/native', () => {
    registerWasmOptimizerKernels();
    const statuses = listKernelProviders('wasm');
    expect(statuses.find((p) => p.name === WASM_OPTIMIZER_PROVIDER.name)).toMatchObject({
      status: 'active',
      kernels: ['ConvkitFusedAdadelta', 'ConvkitFusedAdagrad', FUSED_ADAM_KERNEL, 'ConvkitFusedRmsprop', FUSED_SGD_KERNEL],
      serving: 3,
    });
    expect(statuses.find((p) => p.name === NATIVE_OPTIMIZER_PROVIDER_NAME)).toMatchObject({ status: 'active', serving: 2 });
    expect(getKernelProvider(WASM_OPTIMIZER_PROVIDER.name, 'wasm')?.declined).toBeUndefined();
  });
});

describe('registerNativeOptimizerKernels', () => {
  it('declines, saying to rebuild, with an addon built before adamUpdate and sgdUpdate; the WebAssembly loops serve', () => {
    const native = loadNative();
    try {
      registerNativeOptimizerKernels({});
      expect(listKernelProviders('wasm').find((p) => p.name === NATIVE_OPTIMIZER_PROVIDER_NAME)).toMatchObject({ status: 'declined', reason: expect.stringContaining('npm rebuild @convkit/native') });
      expect(listKernelAssignments('wasm').find((a) => a.kernel === FUSED_ADAM_KERNEL)?.servedBy).toBe(WASM_OPTIMIZER_PROVIDER.name);
    } finally {
      registerNativeOptimizerKernels(native);
    }
    expect(listKernelAssignments('wasm').find((a) => a.kernel === FUSED_ADAM_KERNEL)?.servedBy).toBe(NATIVE_OPTIMIZER_PROVIDER_NAME);
  });
});

describe('heapMemory', () => {
  it("finds the wasm backend's memory, and nothing on a backend that hides it (where the WebAssembly loops decline)", () => {
    const memory = heapMemory(tf.backend());
    expect(memory?.buffer).toBe((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer);
    expect(heapMemory({ wasm: { HEAPU8: new Uint8Array(8) } } as unknown as tf.KernelBackend)).toBeUndefined();
    expect(heapMemory(tf.findBackend('cpu')!)).toBeUndefined();
  });
});

describe('fused optimizer kernels: C++ (@convkit/native) and WebAssembly', () => {
  it.each([
    [FUSED_ADAM_KERNEL, [['expAvg', 'expAvgSq', 'maxExpAvgSq'], ['expAvg', 'expAvgSq', 'maxExpAvgSq']], ADAM],
    [FUSED_ADAM_KERNEL, [['expAvg', 'expAvgSq'], ['expAvg', 'expAvgSq']], { ...ADAM, amsgrad: false, decoupled: true, weightScale: [0.9995, 0.99] }],
    [FUSED_SGD_KERNEL, [['momentumBuffer'], ['momentumBuffer']], SGD],
    [FUSED_SGD_KERNEL, [[], ['momentumBuffer']], { ...SGD, nesterov: false, momentum: [0, 0.9], oneMinusDampening: [1, 0.7] }],
  ])('%s gives bit-identical outputs from both loops (%j)', async (kernel, slots, attrs) => {
    const native = await expectNoLeak(() => run(kernel, slots, attrs));
    const webAssembly = await expectNoLeak(() => withKernelProviders({ disable: [NATIVE_OPTIMIZER_PROVIDER_NAME] }, () => run(kernel, slots, attrs)));
    expect(native).toHaveLength(slots.flat().length + slots.length);
    native.forEach((output, at) => expect(bits(output), `output ${at}`).toEqual(bits(webAssembly[at]!)));
    expect(native.flatMap((output) => Array.from(output)).every(Number.isFinite)).toBe(true);
  });

  it('writes over the variable and its slots where nothing else holds their buffers, else into new ones: the same bits', async () => {
    const attrs = { ...ADAM, count: 1, amsgrad: false, weightScale: [1], weightDecay: [0.01], beta1: [0.9], oneMinusBeta1: [0.1], beta2: [0.999], oneMinusBeta2: [0.001], negativeStepSize: [-0.01], sqrtBiasCorrection2: [0.0447], epsilon: [1e-8] };
    const step = async (holdClones: boolean) => {
      const inputs = {
        variable0: tf.tensor(values(35, 1), [7, 5]),
        gradient0: tf.tensor(values(35, 2), [7, 5]),
        expAvg0: tf.tensor(values(35, 3), [7, 5]),
        expAvgSq0: tf.tensor(values(35, 4).map(Math.abs), [7, 5]),
      };
      const updated = [inputs.variable0, inputs.expAvg0, inputs.expAvgSq0];
      const before = await Promise.all(updated.map(async (t) => (await t.data()) as Float32Array));
      // A clone shares its tensor's buffer (convkit's Identity on wasm): the buffer then has two holders.
      const clones = holdClones ? updated.map((t) => t.clone()) : [];
      const outputs = tf.engine().runKernel(FUSED_ADAM_KERNEL, inputs, attrs) as tf.Tensor[];
      const sameBuffer = outputs.map((out, i) => out.dataId === updated[i]!.dataId);
      const after = await Promise.all(outputs.map(async (t) => (await t.data()) as Float32Array));
      const kept = await Promise.all(clones.map(async (t) => (await t.data()) as Float32Array));
      tf.dispose([...Object.values(inputs), ...outputs, ...clones]);
      return { sameBuffer, before, after, kept };
    };
    const inPlace = await expectNoLeak(() => step(false));
    const copied = await expectNoLeak(() => step(true));
    expect(inPlace.sameBuffer).toEqual([true, true, true]);
    expect(copied.sameBuffer).toEqual([false, false, false]);
    inPlace.after.forEach((output, at) => expect(bits(output), `output ${at}`).toEqual(bits(copied.after[at]!)));
    inPlace.after.forEach((output, at) => expect(bits(output), `output ${at} changed`).not.toEqual(bits(inPlace.before[at]!)));
    // The clones still read the values from before the step.
    copied.kept.forEach((values, at) => expect(bits(values), `clone ${at}`).toEqual(bits(copied.before[at]!)));
    // The WebAssembly loops never write in place.
    const webAssembly = await withKernelProviders({ disable: [NATIVE_OPTIMIZER_PROVIDER_NAME] }, () => expectNoLeak(() => step(false)));
    expect(webAssembly.sameBuffer).toEqual([false, false, false]);
    webAssembly.after.forEach((output, at) => expect(bits(output), `WebAssembly output ${at}`).toEqual(bits(copied.after[at]!)));
  });

  it('names a missing input, a wrong shape and a scalar array of the wrong length', () => {
    const w = tf.zeros([2]);
    const g = tf.zeros([3]);
    const attrs = { count: 1, nesterov: false, weightDecay: [0], momentum: [0], oneMinusDampening: [1], negativeLearningRate: [-0.1] };
    for (const provider of [NATIVE_OPTIMIZER_PROVIDER_NAME, WASM_OPTIMIZER_PROVIDER.name]) {
      withKernelProviders({ only: [provider] }, () => {
        expect(() => tf.engine().runKernel(FUSED_SGD_KERNEL, { variable0: w }, attrs)).toThrow(`${FUSED_SGD_KERNEL}: input 'gradient0' is missing`);
        expect(() => tf.engine().runKernel(FUSED_SGD_KERNEL, { variable0: w, gradient0: g }, attrs)).toThrow("input 'gradient0' has shape [3] (expected [2])");
        expect(() => tf.engine().runKernel(FUSED_SGD_KERNEL, { variable0: w, gradient0: w }, { ...attrs, momentum: [] })).toThrow(
          'attrs.momentum must be an array of 1 numbers (received [])'
        );
      });
    }
    tf.dispose([w, g]);
  });
});
