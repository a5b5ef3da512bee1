import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { OptimizerLike } from '@convkit/learner';

/** One case of fixtures/torch-schedules.json. */
export interface TorchCase {
  options: Record<string, unknown>;
  learningRate: number[];
  momentum?: number[];
  beta1?: number[];
  metrics?: number[];
}

/** The torch reference values (see fixtures/make-fixtures.py). */
export const TORCH: { torch: string; cases: Record<string, TorchCase> } = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/torch-schedules.json', import.meta.url)), 'utf8')
);

/** Asserts two sequences agree element by element within 1e-6 relative (1e-12 absolute near zero). */
export function expectClose(actual: readonly number[], expected: readonly number[], label = 'value'): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  actual.forEach((value, i) => {
    const want = expected[i]!;
    const error = Math.abs(value - want);
    if (!(error <= 1e-6 * Math.abs(want) || error <= 1e-12)) {
      expect.fail(`${label}[${i}]: ${value} differs from torch ${want} (relative error ${error / Math.abs(want)})`);
    }
  });
}

/** A tensor-free optimizer with named hypers, for plugins driven outside a fit. */
export function fakeOptimizer(hypers: Record<string, number>): OptimizerLike {
  const values = { ...hypers };
  return {
    hyperNames: Object.keys(values),
    getHyper: (name) => values[name]!,
    setHyper: (name, value) => {
      values[name] = value;
    },
    applyGradients: () => {},
    dispose: () => {},
  };
}
