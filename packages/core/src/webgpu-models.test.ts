// The models of @convkit/models and the quick start's, on webgpu against the cpu backend (tfjs's pure-JS reference):
// forward outputs and every gradient, 20 training steps, and no tensor or GPU buffer growth over 100 steps.
// Runs when Dawn finds an adapter (lavapipe in CI: scripts/setup-system.sh installs it); says so plainly otherwise.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as models from '@convkit/models';
import { initBackend } from './backend.js';
import { installCpuKernels } from './cpu-kernels.js';
import { createRng, type Rng } from './rng.js';
import { relativeError } from './testing.js';
import { describeAdapter, probeWebGpu } from './webgpu-backend.js';

const gpu = await probeWebGpu();
installCpuKernels(); // the cpu reference with convkit's fix of its ResizeNearestNeighborGrad (upSampling's gradient)

/** Tolerance on webgpu against cpu: float32 on both, sums in another order (lavapipe measured up to ~1e-5). */
const TOLERANCE = 1e-4;

type QuickstartModel = (rng: Rng) => tf.LayersModel;

/** The quick start's model from @convkit/models when it lives there, else from examples/quickstart-model.mjs. */
async function quickstartModel(): Promise<QuickstartModel> {
  const fromModels = (models as Record<string, unknown>)['quickstartModel'];
  if (typeof fromModels === 'function') return fromModels as QuickstartModel;
  const path = '../../../examples/quickstart-model.mjs';
  return ((await import(/* @vite-ignore */ path)) as { quickstartModel: QuickstartModel }).quickstartModel;
}

interface Case {
  name: string;
  build: () => Promise<tf.LayersModel>;
  /** The loss is mean squared error against the input (an autoencoder) or softmax cross-entropy on these classes. */
  loss: 'reconstruction' | 'classes';
}

const CASES: Case[] = [
  { name: 'the quick start model', build: async () => (await quickstartModel())(createRng(7)), loss: 'classes' },
  { name: 'smallConvNet (max pool, dense head)', build: async () => models.smallConvNet({ inputShape: [8, 8, 3], numClasses: 5, filters: [4, 6], dense: [7], seed: 1 }), loss: 'classes' },
  {
    name: 'smallConvNet (stride 2, average pool, leaky relu)',
    build: async () =>
      models.smallConvNet({ inputShape: [16, 16, 1], numClasses: 3, filters: [3, 4], strides: [2, 1], pooling: 'average', activation: { leakyRelu: 0.2 }, dense: [], seed: 2 }),
    loss: 'classes',
  },
  { name: 'modifiedVgg', build: async () => models.modifiedVgg({ inputShape: [28, 28, 1], numClasses: 10, widthDivisor: 16, fc: 16, seed: 3 }), loss: 'classes' },
  { name: 'vgg16', build: async () => models.vgg16({ inputShape: [32, 32, 3], numClasses: 10, widthDivisor: 16, fc: 16, seed: 4 }), loss: 'classes' },
  { name: 'smallResNet (batch norm, training mode)', build: async () => models.smallResNet({ inputShape: [16, 16, 3], numClasses: 4, seed: 5 }), loss: 'classes' },
  { name: 'convAutoencoder', build: async () => models.convAutoencoder({ inputShape: [16, 16, 1], seed: 6 }), loss: 'reconstruction' },
  { name: 'mlp', build: async () => models.mlp({ inputSize: 12, outputSize: 3, hidden: [8], seed: 7 }), loss: 'classes' },
];

function inputs(model: tf.LayersModel, batch: number, rng: Rng): { x: Float32Array; xShape: number[]; labels: Int32Array } {
  const xShape = [batch, ...(model.inputs[0]?.shape.slice(1) as number[])];
  const x = Float32Array.from({ length: xShape.reduce((p, q) => p * q, 1) }, () => rng.normal());
  const classes = model.outputs[0]?.shape.at(-1) as number;
  return { x, xShape, labels: Int32Array.from({ length: batch }, () => rng.int(0, classes)) };
}

function lossOf(model: tf.LayersModel, c: Case, x: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  const output = model.apply(x, { training: true }) as tf.Tensor;
  if (c.loss === 'reconstruction') return tf.losses.meanSquaredError(x, output) as tf.Scalar;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, output.shape.at(-1) as number), output) as tf.Scalar;
}

/** The output and every trainable weight's gradient of one batch, read back with `await data()` (no sync read). */
async function forwardAndGradients(model: tf.LayersModel, c: Case, data: ReturnType<typeof inputs>): Promise<Float32Array[]> {
  const x = tf.tensor(data.x, data.xShape);
  const labels = tf.tensor1d(data.labels, 'int32');
  const output = tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => lossOf(model, c, x, labels), variables);
  const tensors = [output, ...variables.map((variable) => grads[variable.name] as tf.Tensor)];
  const values = await Promise.all(tensors.map(async (tensor) => (await tensor.data()) as Float32Array));
  tf.dispose([x, labels, value, ...tensors]);
  return values;
}

/** Trains `steps` Adam steps on fixed batches; returns each step's loss and the final weights. */
async function train(model: tf.LayersModel, steps: number, batch: number): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const c = CASES[0] as Case;
  const rng = createRng(11);
  const batches = Array.from({ length: 4 }, () => inputs(model, batch, rng));
  const optimizer = tf.train.adam(2e-3);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const data = batches[step % batches.length] as ReturnType<typeof inputs>;
    const loss = tf.tidy(() => {
      const x = tf.tensor(data.x, data.xShape);
      const labels = tf.tensor1d(data.labels, 'int32');
      return optimizer.minimize(() => lossOf(model, c, x, labels), true) as tf.Scalar;
    });
    losses.push((await loss.data())[0] as number);
    loss.dispose();
  }
  const weights = await Promise.all(model.trainableWeights.map(async (weight) => (await weight.read().data()) as Float32Array));
  optimizer.dispose();
  return { losses, weights };
}

// Test files share one process and one tfjs engine: leave the next file on cpu, not on webgpu.
afterAll(async () => {
  await tf.setBackend('cpu');
});

if (gpu.status === 'ok') {
  describe(`on webgpu (${describeAdapter(gpu.adapter)}) against cpu`, () => {
    it.each(CASES)('$name: forward output and every gradient match cpu', { timeout: 120_000 }, async (c) => {
      await tf.setBackend('cpu');
      const model = await c.build();
      const data = inputs(model, 4, createRng(c.name.length));
      const cpu = await forwardAndGradients(model, c, data);
      await initBackend({ backend: 'webgpu', log: false });
      const before = tf.memory().numTensors;
      const webgpu = await forwardAndGradients(model, c, data);
      expect(tf.memory().numTensors).toBe(before);
      expect(webgpu.length).toBe(model.trainableWeights.length + 1);
      webgpu.forEach((values, i) => {
        const what = i === 0 ? 'output' : `gradient of ${model.trainableWeights[i - 1]?.name}`;
        expect(relativeError(cpu[i] as Float32Array, values), what).toBeLessThan(TOLERANCE);
      });
      model.dispose();
    });

    it('20 Adam steps of the quick start model land where cpu lands', { timeout: 240_000 }, async () => {
      const make = await quickstartModel();
      await tf.setBackend('cpu');
      const onCpu = await train(make(createRng(3)), 20, 2);
      await initBackend({ backend: 'webgpu', log: false });
      const model = make(createRng(3));
      const onWebGpu = await train(model, 20, 2);
      model.dispose();
      // The same four batches in turn: their losses in the last round are below those of the first.
      const round = (first: number): number => onWebGpu.losses.slice(first, first + 4).reduce((p, q) => p + q, 0);
      expect(round(16)).toBeLessThan(round(0));
      expect(relativeError(onCpu.losses, onWebGpu.losses)).toBeLessThan(TOLERANCE);
      onCpu.weights.forEach((weights, i) => expect(relativeError(weights, onWebGpu.weights[i] as Float32Array), `weight ${i}`).toBeLessThan(TOLERANCE));
    });

    it('100 training steps leave no tensor and no GPU memory behind', { timeout: 300_000 }, async () => {
      await initBackend({ backend: 'webgpu', log: false });
      const model = (await quickstartModel())(createRng(5));
      const optimizer = tf.train.adam(1e-3);
      const data = inputs(model, 2, createRng(9));
      const x = tf.tensor(data.x, data.xShape);
      const labels = tf.tensor1d(data.labels, 'int32');
      const snapshots: { step: number; numTensors: number; numBytes: number; gpuBytes: number }[] = [];
      for (let step = 1; step <= 100; step++) {
        const loss = tf.tidy(() => optimizer.minimize(() => lossOf(model, CASES[0] as Case, x, labels), true) as tf.Scalar);
        await loss.data();
        loss.dispose();
        if (step === 10 || step === 100) {
          const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
          snapshots.push({ step, numTensors: memory.numTensors, numBytes: memory.numBytes, gpuBytes: memory.numBytesInGPU ?? -1 });
        }
      }
      const [early, late] = snapshots;
      expect(late?.numTensors).toBe(early?.numTensors);
      expect(late?.numBytes).toBe(early?.numBytes);
      expect(late?.gpuBytes).toBe(early?.gpuBytes);
      expect(early?.gpuBytes).toBeGreaterThan(0);
      tf.dispose([x, labels]);
      optimizer.dispose();
      model.dispose();
    });
  });
} else {
  describe('on webgpu against cpu', () => {
    it('is not run: Dawn offers no WebGPU adapter here', () => {
      console.log(`webgpu model tests NOT RUN: ${gpu.detail}`);
      expect(gpu.status).not.toBe('ok');
    });
  });
}
