import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from '../context.js';
import type { VariableGradient } from '../optimizer.js';
import type { Plugin } from '../plugin.js';
import { CancelStep } from '../signals.js';

interface Accumulated {
  variable: tf.Variable;
  /** Σ samplesᵢ · gradientᵢ over the micro-batches so far (a kept tensor). */
  sum: tf.Tensor;
}

/** The plugin returned by {@link gradientAccumulation}. */
export interface GradientAccumulationPlugin extends Plugin {
  /** Micro-batches accumulated since the last optimizer step (0 … k − 1). */
  readonly pending: number;
}

/**
 * A plugin that accumulates the gradients of `k` consecutive batches and takes one optimizer step with their
 * sample-weighted mean, so that k batches of size b give the same update as one batch of size k·b.
 *
 * Why: when the batch that training needs does not fit in memory (E1.6: batch 50 → 10), accumulation keeps the
 * larger batch's update while holding only a small batch's activations.
 *
 * Rule: with a mean-reduced loss, the gradient of a batch of n = Σ nᵢ samples is `Σ nᵢ·gᵢ / Σ nᵢ`, where gᵢ is the
 * gradient of micro-batch i (of nᵢ samples); the plugin hands exactly that to the optimizer on the k-th batch and
 * throws `CancelStep` in `beforeStep` on the others (so `ctx.step` counts real updates and schedules see one step
 * per k batches). Batch-norm statistics still see the small batches. Accumulation carries across epoch ends; what
 * is left when the fit ends is dropped.
 *
 * It writes `'grads'` in `afterBackward` with `priority: 10` (before {@link gradientClipping}, which then clips the
 * accumulated gradient). The sums are kept tensors owned by the plugin and freed in `afterFit`.
 *
 * @param steps - k, the number of batches per optimizer step: an integer ≥ 1.
 * @example
 * ```ts
 * import { Learner, gradientAccumulation } from '@convkit/learner';
 * // batches of 10, updates as with batches of 50
 * const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, plugins: [gradientAccumulation(5)] });
 * ```
 */
export function gradientAccumulation(steps: number): GradientAccumulationPlugin {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`steps must be a positive integer (received ${String(steps)})`);
  }
  let sums = new Map<string, Accumulated>();
  let samples = 0;
  let count = 0;
  let skip = false;
  const reset = (): void => {
    for (const { sum } of sums.values()) sum.dispose();
    sums = new Map();
    samples = 0;
    count = 0;
    skip = false;
  };
  const add = (grads: readonly VariableGradient[], size: number): void => {
    for (const { variable, gradient } of grads) {
      const previous = sums.get(variable.name);
      const sum = tf.tidy(() => {
        const weighted = tf.mul(gradient, size);
        return previous === undefined ? weighted : tf.add(previous.sum, weighted);
      });
      previous?.sum.dispose();
      sums.set(variable.name, { variable, sum: tf.keep(sum) });
    }
    samples += size;
  };
  return {
    name: 'gradientAccumulation',
    writes: ['grads'],
    priority: 10,
    get pending(): number {
      return count;
    },
    beforeFit: reset,
    afterBackward(ctx: LoopContext): void {
      const size = ctx.batch?.x.shape[0] ?? 1;
      add(ctx.grads ?? [], size);
      count++;
      if (count < steps) {
        skip = true;
        return;
      }
      const total = samples;
      ctx.grads = tf.tidy(() =>
        [...sums.values()].map(({ variable, sum }) => ({ variable, gradient: tf.div(sum, total) }))
      );
      for (const { sum } of sums.values()) sum.dispose();
      sums = new Map();
      samples = 0;
      count = 0;
      skip = false;
    },
    beforeStep(): void {
      if (skip) throw new CancelStep(`accumulating gradients (${count}/${steps})`);
    },
    afterFit: reset,
  };
}
