import * as tf from '@tensorflow/tfjs';
import { initBackend, listKernelProviders, withKernelProviders } from '@convkit/core';
import { expectNoLeak, withBackend } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { Optimizer, adadelta, adagrad, adam, adamW, rmsprop, sgd, sgdAlgorithm } from './index.js';

// The WebAssembly kernels, and the C++ ones of @convkit/native above them (declined when the addon is not built).
const FUSED_PROVIDERS = ['native-fused-optimizer', 'wasm-fused-optimizer'];
const SHAPES = [[3, 3, 1, 8], [8], [200, 16], [16], [1]];

/** Deterministic, sign-mixed values of every magnitude from 1e-4 to 10 (no RNG: the same on every run). */
function values(size: number, seed: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 10 ** (((i * 7 + seed) % 6) - 4));
}

interface Trajectory {
  weights: Float32Array[];
  slots: Record<string, number[]>[];
  kernels: string[];
}

/**
 * Trains `steps` steps of `make()` on fixed variables and gradients (changing `learningRate` half-way, as a schedule
 * does) and returns the final weights and slots bit for bit, and the kernels the last step ran.
 */
async function train(make: (variables: tf.Variable[]) => Optimizer, steps = 6): Promise<Trajectory> {
  const variables = SHAPES.map((shape, v) => tf.tidy(() => tf.variable(tf.tensor(values(tf.util.sizeFromShape(shape), v + 1), shape))));
  const optimizer = make(variables);
  let kernels: string[] = [];
  for (let step = 0; step < steps; step++) {
    if (step === steps / 2) optimizer.setHyper('learningRate', optimizer.getHyper('learningRate') / 3);
    const gradients = SHAPES.map((shape, v) => tf.tensor(values(tf.util.sizeFromShape(shape), 100 * step + v), shape));
    const pairs = variables.map((variable, v) => ({ variable, gradient: gradients[v]! }));
    if (step === steps - 1) kernels = (await tf.profile(() => optimizer.applyGradients(pairs))).kernels.map((entry) => entry.name);
    else optimizer.applyGradients(pairs);
    tf.dispose(gradients);
  }
  const weights = await Promise.all(variables.map(async (variable) => (await variable.data()) as Float32Array));
  const slots = (await optimizer.getState()).variables.map((entry) => entry.slots);
  optimizer.dispose();
  tf.dispose(variables);
  return { weights, slots, kernels };
}

/** Bit patterns, so that -0 and 0 (and NaN payloads) count as different. */
const bits = (array: Float32Array | number[]): number[] => Array.from(new Uint32Array(Float32Array.from(array).buffer));

const CASES: [string, () => Optimizer, string][] = [
  ['adam', () => adam({ learningRate: 0.01 }), 'ConvkitFusedAdam'],
  ['adam with L2 weight decay and amsgrad', () => adam({ learningRate: 0.02, weightDecay: 0.1, amsgrad: true, beta1: 0.8 }), 'ConvkitFusedAdam'],
  ['adamW', () => adamW({ learningRate: 0.003, weightDecay: 0.05, epsilon: 1e-6 }), 'ConvkitFusedAdam'],
  ['sgd', () => sgd({ learningRate: 0.1 }), 'ConvkitFusedSgd'],
  ['sgd with momentum and dampening', () => sgd({ learningRate: 0.05, momentum: 0.9, dampening: 0.3 }), 'ConvkitFusedSgd'],
  ['sgd with Nesterov momentum and weight decay', () => sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }), 'ConvkitFusedSgd'],
  ['adagrad with rate decay, weight decay and an initial accumulator', () => adagrad({ learningRate: 0.1, learningRateDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1 }), 'ConvkitFusedAdagrad'],
  ['adadelta with weight decay', () => adadelta({ learningRate: 1, rho: 0.8, weightDecay: 0.01 }), 'ConvkitFusedAdadelta'],
  ['rmsprop', () => rmsprop({ learningRate: 0.01 }), 'ConvkitFusedRmsprop'],
  ['rmsprop centered, with momentum and weight decay', () => rmsprop({ learningRate: 0.01, alpha: 0.9, centered: true, momentum: 0.5, weightDecay: 0.01 }), 'ConvkitFusedRmsprop'],
];

/** Asserts two trajectories bit-identical: every weight, and every slot (the same slots, in the same order). */
function expectIdentical(actual: Trajectory, expected: Trajectory, label: string): void {
  actual.weights.forEach((weights, v) => expect(bits(weights), `${label}: variable ${v}`).toEqual(bits(expected.weights[v]!)));
  expect(actual.slots.map((slots) => Object.keys(slots))).toEqual(expected.slots.map((slots) => Object.keys(slots)));
  actual.slots.forEach((slots, v) => {
    for (const [name, slot] of Object.entries(slots)) expect(bits(slot), `${label}: ${name} of variable ${v}`).toEqual(bits(expected.slots[v]![name]!));
  });
}

/** The same training three ways on wasm: the top fused provider, the WebAssembly one alone, and unfused. */
async function threeWays(make: (variables: tf.Variable[]) => Optimizer): Promise<Record<'top' | 'webAssembly' | 'unfused', Trajectory>> {
  return withBackend('wasm', () =>
    expectNoLeak(async () => ({
      top: await train(make),
      webAssembly: await withKernelProviders({ disable: [FUSED_PROVIDERS[0]!] }, () => train(make)),
      unfused: await withKernelProviders({ disable: FUSED_PROVIDERS }, () => train(make)),
    }))
  );
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, log: false });
  const native = listKernelProviders('wasm').find((provider) => provider.name === FUSED_PROVIDERS[0]);
  process.stdout.write(`native fused optimizer: ${native?.status ?? 'absent'}${native?.reason === undefined ? '' : ` (${native.reason})`}\n`);
});

describe('fused optimizer step (wasm: providers native-fused-optimizer and wasm-fused-optimizer)', () => {
  it.each(CASES)('%s: one fused kernel per step, weights and slots bit-identical to the per-variable ops', async (_name, make, kernel) => {
    const { top, webAssembly, unfused } = await threeWays(make);
    expect(top.kernels).toEqual([kernel]);
    expect(webAssembly.kernels).toEqual([kernel]);
    expect(unfused.kernels).not.toContain(kernel);
    expect(unfused.kernels.length).toBeGreaterThan(SHAPES.length);
    expectIdentical(top, unfused, 'top provider');
    expectIdentical(webAssembly, unfused, 'WebAssembly kernel');
  });

  it('parameter groups with their own hyperparameters share one fused call and match the per-variable ops', async () => {
    const make = (variables: tf.Variable[]): Optimizer =>
      adam({
        learningRate: 0.01,
        paramGroups: [{ variables: variables.slice(0, 2), hypers: { learningRate: 0.1, beta2: 0.99, weightDecay: 0.01 } }, {}],
      });
    const { top, webAssembly, unfused } = await threeWays(make);
    expect(top.kernels).toEqual(['ConvkitFusedAdam']);
    expectIdentical(top, unfused, 'top provider');
    expectIdentical(webAssembly, unfused, 'WebAssembly kernel');
  });

  it('a variant that spreads a built-in definition and replaces update runs its own rule, not the fused kernel', async () => {
    const base = sgdAlgorithm();
    // Sign descent: w ← w − learningRate · sign(g)
    const variant = { ...base, update: ((gradient, variable, hypers, state) => ({ value: tf.sub(variable, tf.mul(tf.sign(gradient), hypers.learningRate!)), state })) as typeof base.update };
    const { top } = await threeWays(() => new Optimizer(variant, { hypers: { learningRate: 0.5 } }));
    expect(top.kernels).not.toContain('ConvkitFusedSgd');
    const start = values(8, 2);
    const steps = [0, 1, 2, 3, 4, 5].map((step) => values(8, 100 * step + 1));
    const expected = Float32Array.from(start, (w, i) => steps.reduce((value, gradients, step) => Math.fround(value - Math.sign(gradients[i]!) * (step < 3 ? 0.5 : Math.fround(0.5 / 3))), w));
    expect(bits(top.weights[1]!)).toEqual(bits(expected));
  });

  it('other backends (cpu) keep the per-variable ops and reach the same weights as wasm', async () => {
    const make = (): Optimizer => adamW({ learningRate: 0.01 });
    const onWasm = await withBackend('wasm', () => train(make));
    const onCpu = await withBackend('cpu', () => expectNoLeak(() => train(make)));
    expect(onCpu.kernels).not.toContain('ConvkitFusedAdam');
    onCpu.weights.forEach((weights, v) => {
      const worst = Math.max(...weights.map((value, i) => Math.abs(value - onWasm.weights[v]![i]!)));
      expect(worst, `variable ${v}`).toBeLessThan(1e-6);
    });
  });
});
