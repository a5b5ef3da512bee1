import * as tf from '@tensorflow/tfjs';
import { PluginHookError } from './dispatcher.js';
import { Interrupted } from './interrupt.js';
import { UndeclaredWriteError } from './plugin.js';
import { CancelSignal } from './signals.js';

/**
 * Thrown by `fit` when a training step fails outside a plugin hook — a kernel error from the backend (a lost GPU
 * device, an out-of-memory allocation), or an error of the model, the loss or the optimizer. The message names the
 * backend, where the loop stood (epoch 1-based, batch index and step 0-based, as in `ctx`), and the failing tfjs op
 * when the error's stack shows one; the original error is the `cause`. `afterFit` has run, and checkpoints saved
 * before the step are intact.
 *
 * @example
 * ```ts
 * import { TrainingStepError } from '@convkit/learner';
 * try {
 *   await learner.fit(10);
 * } catch (error) {
 *   if (error instanceof TrainingStepError) console.log(error.backend, error.op, error.step);
 *   throw error;
 * }
 * ```
 */
export class TrainingStepError extends Error {
  /** The tfjs backend the step ran on (`tf.getBackend()`). */
  readonly backend: string;
  /** The failing op (e.g. `'conv2d'`), when the stack shows one. */
  readonly op: string | undefined;
  /** The 0-based epoch. */
  readonly epoch: number;
  /** The 0-based batch index within the epoch. */
  readonly batch: number;
  /** The learner's 0-based step. */
  readonly step: number;

  constructor(phase: string, where: { epoch: number; batch: number; step: number }, cause: unknown) {
    const backend = safeBackend();
    const op = failingOp(cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    super(
      `${phase} failed at epoch ${where.epoch + 1}, batch ${where.batch} (step ${where.step}) on the ${backend} ` +
        `backend${op === undefined ? '' : `, in op ${op}`}: ${message}`,
      { cause }
    );
    this.name = 'TrainingStepError';
    this.backend = backend;
    this.op = op;
    this.epoch = where.epoch;
    this.batch = where.batch;
    this.step = where.step;
  }
}

function safeBackend(): string {
  try {
    return tf.getBackend() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The first tfjs op on an error's stack (`relu__op` → `relu`), if any. */
function failingOp(error: unknown): string | undefined {
  const stack = error instanceof Error ? error.stack : undefined;
  const match = stack === undefined ? null : /at (?:[\w$]+\.)*([A-Za-z0-9]+)__op\b/.exec(stack);
  return match?.[1];
}

/**
 * The error a failed step propagates: signals, plugin errors and interrupts as they are (they already say where
 * they come from), anything else wrapped in a {@link TrainingStepError}.
 */
export function stepFailure(error: unknown, phase: string, where: { epoch: number; batch: number; step: number }): unknown {
  if (
    error instanceof CancelSignal ||
    error instanceof PluginHookError ||
    error instanceof UndeclaredWriteError ||
    error instanceof Interrupted ||
    error instanceof TrainingStepError
  ) {
    return error;
  }
  return new TrainingStepError(phase, where, error);
}
