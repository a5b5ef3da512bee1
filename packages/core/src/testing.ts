/**
 * Test helpers for convkit packages, imported as `@convkit/core/testing` (not part of the main
 * entry point, so production bundles never pull them in).
 */
import * as tf from '@tensorflow/tfjs';
import './wasm-backend.js';

/**
 * Runs `fn` (sync or async) and throws if `tf.memory().numTensors` grew across the call.
 *
 * Why: every convkit function that makes tensors documents who disposes them; this proves it.
 * Tensors returned by `fn` count as leaked, so return plain values (e.g. `await t.data()` copied
 * into an array) and dispose tensors inside `fn`.
 *
 * Returns whatever `fn` returns. Throws `Error('leaked N tensors (before B, after A)')`.
 *
 * @example
 * ```ts
 * const sum = await expectNoLeak(() => tf.tidy(() => tf.ones([3]).sum().dataSync()[0]));
 * ```
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after > before) {
    throw new Error(`leaked ${after - before} tensors (before ${before}, after ${after})`);
  }
  return result;
}

/**
 * Runs `fn` with the tfjs backend `name` active, then restores the backend that was active before
 * (also when `fn` throws). Throws if `name` is not registered or cannot be initialised.
 *
 * @example
 * ```ts
 * const onCpu = await withBackend('cpu', () => tf.tidy(() => tf.ones([2]).sum().dataSync()[0]));
 * ```
 */
export async function withBackend<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  if (tf.findBackendFactory(name) == null) {
    throw new Error(`name must be a registered tfjs backend (received '${name}'; available: ${availableBackends().join(', ')})`);
  }
  const previous = tf.getBackend();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend '${name}' could not be initialised (available: ${availableBackends().join(', ')})`);
  try {
    return await fn();
  } finally {
    if (previous !== undefined && previous !== name) await tf.setBackend(previous);
  }
}

/** Backends that run in Node when their factory is registered (webgl/webgpu need a browser GPU). */
const NODE_BACKENDS: readonly string[] = ['tensorflow', 'wasm', 'cpu'];

/**
 * The tfjs backends usable in this process, fastest first, e.g. `['wasm', 'cpu']` here or
 * `['tensorflow', 'wasm', 'cpu']` where `@tensorflow/tfjs-node` is loaded. Synchronous, for
 * `describe.each(availableBackends())`: a backend counts when its factory is registered
 * (`cpu` always; `wasm` because this module imports it; `tensorflow` once tfjs-node is loaded).
 *
 * @example
 * ```ts
 * describe.each(availableBackends())('on %s', (backend) => { ... });
 * ```
 */
export function availableBackends(): string[] {
  return NODE_BACKENDS.filter((name) => tf.findBackendFactory(name) != null);
}

/**
 * The largest absolute difference between `actual` and `reference`, divided by the largest magnitude in
 * `reference` (the plain largest difference when `reference` is all zeros): a relative error that near-zero
 * entries cannot inflate. Throws when the lengths differ.
 *
 * @example
 * ```ts
 * expect(relativeError(cpuGradient, wasmGradient)).toBeLessThan(1e-5);
 * ```
 */
export function relativeError(reference: ArrayLike<number>, actual: ArrayLike<number>): number {
  if (actual.length !== reference.length) {
    throw new Error(`actual must have the reference's length ${reference.length} (received ${actual.length})`);
  }
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    worst = Math.max(worst, Math.abs((reference[i] as number) - (actual[i] as number)));
    scale = Math.max(scale, Math.abs(reference[i] as number));
  }
  return scale === 0 ? worst : worst / scale;
}
