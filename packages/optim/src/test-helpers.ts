// Shared helpers of this package's tests (not exported from index.ts, not part of the build's public API).
import * as tf from '@tensorflow/tfjs';
import type { Optimizer } from './optimizer.js';

/** A variable holding `values` (no stray initial tensor left behind). */
export function variableOf(values: number[] | number[][], name?: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values), true, name));
}

/** Applies one step with the given gradient values to `variable`; resolves to the new values (an async read). */
export async function stepWith(optimizer: Optimizer, variable: tf.Variable, gradient: number[]): Promise<number[]> {
  const tensor = tf.tensor(gradient, variable.shape);
  optimizer.applyGradients([{ variable, gradient: tensor }]);
  tensor.dispose();
  return Array.from(await variable.data());
}

/**
 * One step on several variables with a deterministic gradient that depends on the weights:
 * g = 0.5·(w − 1) + 0.2·sin(3w), so trajectories are non-trivial and any difference in state shows.
 */
export function stepAll(optimizer: Optimizer, variables: tf.Variable[]): void {
  const gradients = variables.map((variable) =>
    tf.tidy(() => tf.add(tf.mul(tf.sub(variable, 1), 0.5), tf.mul(tf.sin(tf.mul(variable, 3)), 0.2)))
  );
  try {
    optimizer.applyGradients(variables.map((variable, index) => ({ variable, gradient: gradients[index]! })));
  } finally {
    tf.dispose(gradients);
  }
}
