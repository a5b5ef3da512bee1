import { createRng } from '@convkit/core';
import type { Rng } from '@convkit/core';
import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from './batch-encoder.js';

/**
 * A batch transform applied after normalisation, e.g. augmentation.
 *
 * It receives the batch images and a generator seeded for this batch alone (so a resumed
 * loader reproduces it exactly), and returns the transformed images with the same batch
 * size. It runs inside `tf.tidy`; the loader disposes the input when a new tensor is
 * returned.
 */
export type BatchTransform = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/** Hashes (seed, batch) into an independent 31-bit seed (murmur3 finaliser). */
function batchSeed(seed: number, batchIndex: number): number {
  let h = (seed ^ Math.imul(batchIndex + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 1;
}

/**
 * Runs `transform` on the images `x` of batch `batchIndex` of an epoch whose transforms draw from `transformSeed`, with
 * the batch's own generator (so the result depends on nothing else: not the thread, not the timing). Returns the
 * transform's tensor (possibly `x` itself); does not dispose `x`. Throws, disposing its output, when the transform
 * returns anything but a 4-D tensor of the same batch size.
 */
export function transformImages(x: tf.Tensor4D, transform: BatchTransform, transformSeed: number, batchIndex: number): tf.Tensor4D {
  const size = x.shape[0];
  const rng = createRng(batchSeed(transformSeed, batchIndex));
  const out = tf.tidy(() => transform(x, rng));
  if (!(out instanceof tf.Tensor) || out.rank !== 4 || out.shape[0] !== size) {
    const got = out instanceof tf.Tensor ? `shape [${out.shape.join(', ')}]` : String(out);
    if (out instanceof tf.Tensor && out !== x) out.dispose();
    throw new Error(`transform must return a 4-D tensor of batch size ${size} (received ${got})`);
  }
  return out;
}

/**
 * Applies `transform` to batch `batchIndex` of an epoch whose transforms draw from
 * `transformSeed`. Takes ownership of `batch`: returns it with the new `x` (disposing the old
 * one), or disposes it and rethrows when the transform fails or returns a wrong shape.
 */
export function applyBatchTransform(
  batch: ImageBatch,
  transform: BatchTransform,
  transformSeed: number,
  batchIndex: number,
): ImageBatch {
  let x: tf.Tensor4D;
  try {
    x = transformImages(batch.x, transform, transformSeed, batchIndex);
  } catch (error) {
    tf.dispose([batch.x, batch.y]);
    throw error;
  }
  if (x !== batch.x) batch.x.dispose();
  return { x, y: batch.y };
}
