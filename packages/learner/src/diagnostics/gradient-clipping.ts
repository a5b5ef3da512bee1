import * as tf from '@tensorflow/tfjs';
import type { LoopContext } from '../context.js';
import type { VariableGradient } from '../optimizer.js';
import type { Plugin } from '../plugin.js';

/** Options of {@link gradientClipping}: exactly one of `value` or `norm`. */
export type GradientClippingOptions =
  | {
      /** Clamp every gradient element to [−value, value] (PyTorch `clip_grad_value_`). */
      value: number;
      norm?: undefined;
    }
  | {
      /** Rescale all gradients together so that their global norm is at most `norm` (PyTorch `clip_grad_norm_`). */
      norm: number;
      /** The norm: 2 (Euclidean over all elements of all gradients) or `Infinity` (largest absolute element). Defaults to 2. */
      normType?: 2 | typeof Infinity;
      value?: undefined;
    };

/** What {@link clipGradientsByNorm} returns. */
export interface ClippedGradients {
  /** The rescaled gradients, in the input order: new tensors the caller disposes. */
  grads: VariableGradient[];
  /** The global norm before clipping, as a scalar tensor the caller disposes. */
  totalNorm: tf.Scalar;
}

function checkPositive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new Error(`${name} must be a positive finite number (received ${String(value)})`);
  }
}

/**
 * Clamps every gradient element to [−value, value], as PyTorch's `torch.nn.utils.clip_grad_value_`.
 *
 * Returns new gradient tensors (same variables, same order) that the caller disposes; does not dispose `grads`.
 *
 * @example
 * ```ts
 * const clipped = clipGradientsByValue([{ variable: w, gradient: tf.tensor([3, -0.5]) }], 1); // [1, -0.5]
 * ```
 */
export function clipGradientsByValue(grads: readonly VariableGradient[], value: number): VariableGradient[] {
  checkPositive('value', value);
  return grads.map(({ variable, gradient }) => ({ variable, gradient: tf.clipByValue(gradient, -value, value) }));
}

/**
 * Rescales gradients so that their global norm is at most `maxNorm`, exactly as PyTorch's
 * `torch.nn.utils.clip_grad_norm_`: `totalNorm = ‖(‖g₁‖, …, ‖gₙ‖)‖`, `coefficient = min(1, maxNorm / (totalNorm +
 * 1e-6))`, and every gradient is multiplied by `coefficient`. The direction of the update is kept; only its length
 * is capped.
 *
 * Returns new gradient tensors and the norm before clipping, all owned by the caller; does not dispose `grads`.
 *
 * @param normType - 2 (Euclidean) or `Infinity` (largest absolute element). Defaults to 2.
 * @example
 * ```ts
 * const { grads, totalNorm } = clipGradientsByNorm([{ variable: w, gradient: tf.tensor([3, 4]) }], 1); // [0.6, 0.8], 5
 * ```
 */
export function clipGradientsByNorm(
  grads: readonly VariableGradient[],
  maxNorm: number,
  normType: number = 2
): ClippedGradients {
  checkPositive('maxNorm', maxNorm);
  if (normType !== 2 && normType !== Infinity) {
    throw new Error(`normType must be 2 or Infinity (received ${String(normType)})`);
  }
  return tf.tidy(() => {
    if (grads.length === 0) return { grads: [], totalNorm: tf.scalar(0) };
    const norms = grads.map(({ gradient }) =>
      normType === 2 ? tf.sqrt(tf.sum(tf.square(gradient))) : tf.max(tf.abs(gradient))
    );
    const stacked = tf.stack(norms);
    const totalNorm = (normType === 2 ? tf.sqrt(tf.sum(tf.square(stacked))) : tf.max(stacked)) as tf.Scalar;
    const coefficient = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    return {
      grads: grads.map(({ variable, gradient }) => ({ variable, gradient: tf.mul(gradient, coefficient) })),
      totalNorm,
    };
  });
}

/**
 * A plugin that clips the gradients of every step before the optimizer sees them, by value
 * (`{ value: 0.5 }`, PyTorch `clip_grad_value_`) or by global norm (`{ norm: 1 }`, PyTorch `clip_grad_norm_`).
 *
 * Why: one exploding batch (a bad sample, a too-high rate at the start of a one-cycle schedule, a recurrent-like
 * deep stack) can throw the weights far away in one step; clipping by norm caps the step length without changing
 * its direction.
 *
 * It runs in `afterBackward` and writes `'grads'`, with `priority: 20`, so that with {@link gradientAccumulation}
 * (priority 10) it clips the accumulated gradient, as PyTorch code clips after the last micro-batch. The learner
 * disposes the replaced gradients.
 *
 * Options: `value` — clamp bound; or `norm` — the largest global norm, with `normType` 2 or `Infinity` (defaults
 * to 2).
 *
 * @example
 * ```ts
 * import { Learner, gradientClipping } from '@convkit/learner';
 * const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, plugins: [gradientClipping({ norm: 1 })] });
 * ```
 */
export function gradientClipping(options: GradientClippingOptions): Plugin {
  const candidate = (options ?? {}) as { value?: unknown; norm?: unknown; normType?: unknown };
  const hasValue = candidate.value !== undefined;
  const hasNorm = candidate.norm !== undefined;
  if (hasValue === hasNorm) {
    throw new Error(
      `options must have exactly one of value or norm (received ${JSON.stringify(options ?? null)})`
    );
  }
  if (hasValue) checkPositive('value', candidate.value);
  else checkPositive('norm', candidate.norm);
  const normType = (candidate.normType ?? 2) as number;
  if (normType !== 2 && normType !== Infinity) {
    throw new Error(`normType must be 2 or Infinity (received ${String(candidate.normType)})`);
  }
  return {
    name: 'gradientClipping',
    writes: ['grads'],
    priority: 20,
    afterBackward(ctx: LoopContext): void {
      const grads = ctx.grads ?? [];
      if (hasValue) {
        ctx.grads = clipGradientsByValue(grads, candidate.value as number);
      } else {
        const clipped = clipGradientsByNorm(grads, candidate.norm as number, normType);
        clipped.totalNorm.dispose();
        ctx.grads = clipped.grads;
      }
    },
  };
}
