import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@convkit/core';
import { availableBackends, expectNoLeak, withBackend } from '@convkit/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { Optimizer, adadelta, adagrad, adam, adamW, rmsprop, sgd, sgdAlgorithm } from './index.js';
import type { ParamGroup } from './index.js';

/** One PyTorch reference trajectory written by fixtures/make-fixtures.py. */
interface Fixture {
  id: string;
  factory: 'sgd' | 'adam' | 'adamW' | 'adadelta' | 'adagrad' | 'rmsprop';
  options: Record<string, number | boolean>;
  paramGroups: { variables: number[]; hypers: Record<string, number> }[] | null;
  changes: { step: number; group?: number; hypers: Record<string, number> }[];
  shapes: number[][];
  initial: string[];
  steps: { gradients: string[]; weights: string[] }[];
}

const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const TOLERANCE = 1e-5;
/**
 * Elementwise comparisons use max(|expected|, ELEMENT_FLOOR) as the denominator: PyTorch's CPU kernels update with
 * fused multiply-adds (one rounding where tfjs has two), so weights that pass near zero differ by a few float32 ulps
 * of the update, which is no relative error of the weight at all.
 */
const ELEMENT_FLOOR = 1e-2;

function decode(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(join(FIXTURES_DIR, file), 'utf8')) as Fixture);
}

const FACTORIES: Record<Fixture['factory'], (options: never) => Optimizer> = { sgd, adam, adamW, adadelta, adagrad, rmsprop };

/**
 * Relative error of one tensor, two ways: norm-wise max|a − b| / max|b| (the ∞-norm), and elementwise
 * max |a − b| / max(|b|, ELEMENT_FLOOR). Returns the larger.
 */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let difference = 0;
  let scale = 0;
  let elementwise = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!);
    difference = Math.max(difference, error);
    scale = Math.max(scale, Math.abs(expected[i]!));
    elementwise = Math.max(elementwise, error / Math.max(Math.abs(expected[i]!), ELEMENT_FLOOR));
  }
  return Math.max(difference / scale, elementwise);
}

/** Replays a fixture's gradients through the convkit optimizer; returns the worst relative error of each step. */
function replay(fixture: Fixture, make: (paramGroups: ParamGroup[] | undefined) => Optimizer = (paramGroups) =>
  FACTORIES[fixture.factory]({ ...fixture.options, paramGroups } as never)): number[] {
  const variables = fixture.initial.map((values, index) =>
    tf.tidy(() => tf.variable(tf.tensor(decode(values), fixture.shapes[index])))
  );
  const paramGroups: ParamGroup[] | undefined = fixture.paramGroups?.map((group) => ({
    variables: group.variables.map((index) => variables[index]!),
    hypers: group.hypers,
  }));
  const optimizer = make(paramGroups);
  const errors: number[] = [];
  fixture.steps.forEach((step, index) => {
    for (const change of fixture.changes.filter((entry) => entry.step === index)) {
      for (const [name, value] of Object.entries(change.hypers)) {
        optimizer.setHyper(name, value, change.group === undefined ? {} : { group: change.group });
      }
    }
    const gradients = step.gradients.map((values, at) => tf.tensor(decode(values), fixture.shapes[at]));
    optimizer.applyGradients(variables.map((variable, at) => ({ variable, gradient: gradients[at]! })));
    tf.dispose(gradients);
    errors.push(Math.max(...variables.map((variable, at) => relativeError(variable.dataSync() as Float32Array, decode(step.weights[at]!)))));
  });
  optimizer.dispose();
  tf.dispose(variables);
  return errors;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('PyTorch 1.13 reference trajectories (fixtures/make-fixtures.py)', () => {
  const fixtures = loadFixtures();

  it('covers every optimizer with at least 20 steps each', () => {
    expect(new Set(fixtures.map((fixture) => fixture.factory))).toEqual(
      new Set(['sgd', 'adam', 'adamW', 'adadelta', 'adagrad', 'rmsprop'])
    );
    for (const fixture of fixtures) expect(fixture.steps.length).toBeGreaterThanOrEqual(20);
  });

  it.each(fixtures.map((fixture) => [fixture.id, fixture] as const))(
    '%s: weights after every one of the steps match PyTorch with relative error < 1e-5 (float32, cpu)',
    async (_id, fixture) => {
      const errors = await expectNoLeak(() => replay(fixture));
      expect(errors).toHaveLength(fixture.steps.length);
      process.stdout.write(`${fixture.id}: worst relative error ${Math.max(...errors).toExponential(2)}\n`);
      for (const [step, error] of errors.entries()) {
        expect(error, `${fixture.id} step ${step}`).toBeLessThan(TOLERANCE);
      }
    }
  );

  it('tells rules apart: SGD that damps the first momentum buffer (unlike PyTorch) exceeds the tolerance', async () => {
    const fixture = fixtures.find((entry) => entry.id === 'sgd-momentum-dampening')!;
    const torchRule = sgdAlgorithm();
    const dampedFirstStep = {
      ...torchRule,
      update: (...args: Parameters<typeof torchRule.update>) => {
        const [gradient, variable, hypers, state, step] = args;
        if (state.momentumBuffer !== undefined) return torchRule.update(gradient, variable, hypers, state, step);
        // seed the buffer with (1 − dampening)·g, as if it had started at zero
        const seeded = { momentumBuffer: tf.zerosLike(variable) };
        const result = torchRule.update(gradient, variable, hypers, seeded, step);
        return result;
      },
    };
    const errors = await expectNoLeak(() => replay(fixture, () => new Optimizer(dampedFirstStep, { hypers: fixture.options as Record<string, number> })));
    expect(Math.max(...errors)).toBeGreaterThan(100 * TOLERANCE);
  });
});

describe.each(availableBackends().filter((name) => name !== 'cpu'))('PyTorch 1.13 reference trajectories on %s', (backend) => {
  beforeAll(async () => {
    if (backend !== 'wasm') return;
    // With convkit's kernels, the fused optimizer updates included (C++ when @convkit/native is built, else WebAssembly).
    await initBackend({ backend: 'wasm', threads: 1, log: false });
    await tf.setBackend('cpu');
  });

  it('every configuration matches with relative error < 1e-5 (float32)', async () => {
    const worst = await withBackend(backend, () =>
      expectNoLeak(() => loadFixtures().map((fixture) => [fixture.id, Math.max(...replay(fixture))] as const))
    );
    for (const [id, error] of worst) expect(error, id).toBeLessThan(TOLERANCE);
  });
});
