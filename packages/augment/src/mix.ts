import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng, type RngState } from '@convkit/core';
import type { Batch, Plugin } from '@convkit/learner';
import type { ImageShape, Transform } from './transform.js';
import { applyRecorded, checkAtLeast, sampleTransform, transformBase } from './transform.js';

/** Parameters of {@link mixup} and {@link cutmix}: the weight of the original images, the partner of each image, and (cutmix) the box. */
export interface MixParams {
  readonly lambda: number;
  readonly permutation: readonly number[];
  readonly box?: { readonly left: number; readonly top: number; readonly width: number; readonly height: number };
}

/** A transform of labelled batches (`x` images `[n, h, w, c]`, `y` one-hot `[n, classes]`). */
export type MixTransform = Transform<Batch, MixParams>;

/** Gamma(shape, 1) by Marsaglia and Tsang. */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = rng.normal();
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    if (Math.log(1 - rng.next()) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A Beta(alpha, alpha) draw. */
export function sampleBeta(rng: Rng, alpha: number): number {
  const a = gamma(rng, alpha);
  const b = gamma(rng, alpha);
  return a / (a + b);
}

function checkBatch(name: string, batch: Batch): void {
  if (batch?.x?.rank !== 4) {
    throw new Error(`${name}: batch.x must be a 4-D tensor [n, h, w, c] (received ${batch?.x ? `shape [${batch.x.shape}]` : String(batch?.x)})`);
  }
  if (batch.y?.rank !== 2 || batch.y.shape[0] !== batch.x.shape[0]) {
    throw new Error(`${name}: batch.y must be one-hot labels [n, classes] with n = ${batch.x.shape[0]} (received shape [${batch.y?.shape}])`);
  }
}

function mixer(name: string, alpha: number, withBox: boolean): MixTransform {
  checkAtLeast(`${name}: alpha`, alpha, Number.MIN_VALUE);
  const base = transformBase(name, 1);
  return Object.assign(base, {
    sample(rng: Rng, shape: ImageShape): MixParams {
      const n = shape.batch ?? 1;
      // strength s blends the draw towards 1 (no mixing): λ' = 1 − s·(1 − λ).
      const lambda = 1 - base.strength * (1 - sampleBeta(rng, alpha));
      const permutation = Array.from(rng.permutation(n));
      if (!withBox) return { lambda, permutation };
      const cutW = Math.round(shape.width * Math.sqrt(1 - lambda));
      const cutH = Math.round(shape.height * Math.sqrt(1 - lambda));
      const cx = rng.int(0, shape.width);
      const cy = rng.int(0, shape.height);
      const left = Math.max(0, cx - Math.floor(cutW / 2));
      const top = Math.max(0, cy - Math.floor(cutH / 2));
      const width = Math.min(shape.width, cx - Math.floor(cutW / 2) + cutW) - left;
      const height = Math.min(shape.height, cy - Math.floor(cutH / 2) + cutH) - top;
      // The label weight follows the area actually kept.
      return { lambda: 1 - (width * height) / (shape.width * shape.height), permutation, box: { left, top, width, height } };
    },
    apply(batch: Batch, params: MixParams): Batch {
      checkBatch(name, batch);
      return tf.tidy(() => {
        const order = tf.tensor1d(params.permutation as number[], 'int32');
        const x = batch.x as tf.Tensor4D;
        const otherX = tf.gather(x, order);
        const otherY = tf.gather(batch.y, order);
        const mixedY = batch.y.mul(params.lambda).add(otherY.mul(1 - params.lambda));
        if (params.box === undefined) {
          return { x: x.mul(params.lambda).add(otherX.mul(1 - params.lambda)), y: mixedY };
        }
        const [, h, w] = x.shape;
        const { left, top, width, height } = params.box;
        const mask = new Uint8Array(h * w);
        for (let yy = top; yy < top + height; yy++) mask.fill(1, yy * w + left, yy * w + left + width);
        return { x: tf.where(tf.tensor4d(mask, [1, h, w, 1], 'bool'), otherX, x), y: mixedY };
      });
    },
  });
}

/**
 * mixup (Zhang et al. 2018): each image becomes `λ·x + (1 − λ)·x[π]` and its one-hot label
 * `λ·y + (1 − λ)·y[π]`, with λ ~ Beta(alpha, alpha) per batch and π a random permutation.
 * `strength` moves λ towards 1 (0: no mixing). `apply` returns new tensors; the caller disposes them.
 *
 * @param options - `alpha`, defaults to 0.4.
 * @example
 * ```ts
 * const mixed = mixBatch(mixup({ alpha: 0.4 }), { x, y: oneHot }, new Rng(0));
 * ```
 */
export function mixup(options: { alpha?: number } = {}): MixTransform {
  return mixer('mixup', options.alpha ?? 0.4, false);
}

/**
 * CutMix (Yun et al. 2019): pastes a box of the partner image `x[π]` covering about `1 − λ` of the
 * area (λ ~ Beta(alpha, alpha)); labels mix by the area actually pasted. Returns new tensors.
 *
 * @param options - `alpha`, defaults to 1.
 * @example
 * ```ts
 * const mixed = mixBatch(cutmix(), { x, y: oneHot }, new Rng(0));
 * ```
 */
export function cutmix(options: { alpha?: number } = {}): MixTransform {
  return mixer('cutmix', options.alpha ?? 1, true);
}

/**
 * Samples and applies a batch transform (e.g. {@link mixup}) on a labelled batch:
 * `(batch, rng) => batch`. Returns new tensors; does not dispose `batch`.
 *
 * @example
 * ```ts
 * const { x: mixedX, y: mixedY } = mixBatch(cutmix(), { x, y }, new Rng(1));
 * ```
 */
export function mixBatch(transform: MixTransform, batch: Batch, rng: Rng): Batch {
  const [n, height, width, channels] = batch.x.shape as [number, number, number, number];
  return applyRecorded(transform, batch, sampleTransform(transform, rng, { batch: n, height, width, channels }));
}

/**
 * A learner plugin that replaces each training batch with `transform`'s output in `beforeBatch`
 * (write target `'batch'`), drawing from a fork of the learner's `rng` made in `beforeFit`.
 * The learner disposes the replaced batch. `getState`/`setState` save and restore that stream,
 * so a fit resumed from a checkpoint mixes the same pairs with the same λ.
 *
 * @param options - `name` (defaults to the transform's name).
 * @example
 * ```ts
 * new Learner({ model, optimizer, loss: 'categoricalCrossentropy', plugins: [mixPlugin(mixup())] });
 * ```
 */
export function mixPlugin(
  transform: MixTransform,
  options: { name?: string } = {}
): Plugin & { getState(): { rng: RngState | null }; setState(state: unknown): void } {
  let rng: Rng | undefined;
  return {
    name: options.name ?? transform.name,
    // After augmentStrength / progressiveAugmentation (20), which complete a deferred loader transform first.
    order: 30,
    writes: ['batch'],
    beforeFit(ctx) {
      rng = ctx.rng.fork();
    },
    beforeBatch(ctx) {
      if (ctx.batch === undefined || rng === undefined) return;
      ctx.batch = mixBatch(transform, ctx.batch, rng);
    },
    /** `{ rng }`: the plugin's random stream (null before the first fit), for checkpoints. */
    getState: () => ({ rng: rng?.getState() ?? null }),
    /** Restores `{ rng }` from `getState` (the learner's resume calls it after `beforeFit`). */
    setState(state) {
      const saved = (state as { rng?: RngState | null } | null)?.rng;
      if (saved === undefined) throw new Error(`state must be { rng } from getState (received ${JSON.stringify(state)})`);
      if (saved === null) {
        rng = undefined;
        return;
      }
      rng ??= createRng(0);
      rng.setState(saved);
    },
  };
}
