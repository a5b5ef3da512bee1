// Shared pieces of the webgpu training-loop tests: a tiny seeded model, seeded data, and a runner that runs the same
// code on cpu and on webgpu, checking that neither leaves a tensor behind nor reads a tensor synchronously.
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRng, initBackend } from '@convkit/core';
import type { Batch, BatchSource } from '@convkit/learner';

/** Images of the tests: 8×8×1, 3 classes, batches of 4. */
export const SHAPE = [8, 8, 1] as const;
export const CLASSES = 3;
export const BATCH = 4;
const PIXELS = SHAPE[0] * SHAPE[1] * SHAPE[2];

/** Relative error where the same float32 ops run on both backends (sums in another order): 1e-4. */
export const TOLERANCE = 1e-4;

/**
 * A small conv net (conv 3×3×2 → relu → max pool → dense 3) with seeded initializers: the same weights on every
 * backend (tfjs draws seeded random values in JavaScript).
 */
export function buildModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [...SHAPE], filters: 2, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'zeros' }),
    ],
  });
}

/** `rows` seeded images whose class (`(row + seed) % 3`) is their brightest third of columns (a learnable task). */
export function makeData(rows: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const rng = createRng(seed);
  const images = new Float32Array(rows * PIXELS);
  const labels = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    const label = (row + seed) % CLASSES;
    labels[row] = label;
    for (let i = 0; i < PIXELS; i++) {
      const third = Math.min(CLASSES - 1, Math.floor((i % SHAPE[1]) / 3));
      images[row * PIXELS + i] = rng.normal() * 0.5 + (third === label ? 1 : 0);
    }
  }
  return { images, labels };
}

/** A re-iterable source of `batches` batches of {@link BATCH} fresh tensors (the learner disposes them). */
export function source(batches: number, seed: number, oneHot = false): BatchSource {
  const { images, labels } = makeData(batches * BATCH, seed);
  return {
    length: batches,
    *[Symbol.iterator](): Iterator<Batch> {
      for (let b = 0; b < batches; b++) {
        const x = tf.tensor4d(images.subarray(b * BATCH * PIXELS, (b + 1) * BATCH * PIXELS), [BATCH, ...SHAPE]);
        const classes = labels.subarray(b * BATCH, (b + 1) * BATCH);
        const y = oneHot ? tf.tidy(() => tf.oneHot(tf.tensor1d(classes, 'int32'), CLASSES).toFloat()) : tf.tensor1d(classes, 'int32');
        yield { x, y };
      }
    },
  };
}

/** Every weight of `model`, read with `await data()`. */
export async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (weight) => (await weight.data()) as Float32Array));
}

/** Reads `tensor` with `await data()` and disposes it. */
export async function take(tensor: tf.Tensor): Promise<Float32Array> {
  const values = (await tensor.data()) as Float32Array;
  tensor.dispose();
  return values;
}

/** Synchronous reads seen since the last {@link resetSyncReads}: the method and the first frame outside tfjs. */
const syncReads: string[] = [];
const SYNC_METHODS = ['dataSync', 'arraySync', 'bufferSync'] as const;
const originals = new Map<string, unknown>();

/**
 * Replaces `tf.Tensor.prototype.dataSync/arraySync/bufferSync` by versions that record the call and throw, so a
 * synchronous read anywhere in the loop (convkit or tfjs) is both counted and fails the test.
 */
export function forbidSyncReads(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of SYNC_METHODS) {
    originals.set(method, proto[method]);
    proto[method] = function (this: tf.Tensor): never {
      const where = new Error().stack?.split('\n').slice(2).find((line) => !line.includes('@tensorflow')) ?? '';
      syncReads.push(`${method} on ${tf.getBackend()} ${where.trim()}`);
      throw new Error(`${method}() is forbidden in the training loop (a synchronous read; use await data())`);
    };
  }
}

/** Puts back the methods {@link forbidSyncReads} replaced. */
export function allowSyncReads(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  for (const [method, original] of originals) proto[method] = original;
  originals.clear();
}

/**
 * Runs `run` on cpu, then on webgpu, each time checking that it leaves `tf.memory().numTensors` as it found it and
 * made no synchronous read. `run` must dispose what it makes and return plain values.
 */
export async function onCpuAndWebGpu<T>(run: () => Promise<T>): Promise<{ cpu: T; webgpu: T }> {
  await tf.setBackend('cpu');
  const cpu = await checked(run);
  await initBackend({ backend: 'webgpu', log: false });
  const webgpu = await checked(run);
  return { cpu, webgpu };
}

/** Runs `run` on the current backend with the tensor-count and sync-read checks of {@link onCpuAndWebGpu}. */
export async function checked<T>(run: () => Promise<T>): Promise<T> {
  const backend = tf.getBackend();
  syncReads.length = 0;
  const before = tf.memory().numTensors;
  const result = await run();
  expect(tf.memory().numTensors, `tensors left behind on ${backend}`).toBe(before);
  expect(syncReads, `synchronous reads on ${backend}`).toEqual([]);
  return result;
}
