import * as tf from '@tensorflow/tfjs';

/**
 * One batch of inputs and targets. The learner owns every batch it receives from a {@link BatchSource} and
 * disposes both tensors after use.
 */
export interface Batch {
  /** Inputs, batch first (e.g. N×H×W×C images). */
  x: tf.Tensor;
  /** Targets: one-hot or index labels for classification, values for regression. */
  y: tf.Tensor;
}

/**
 * Batches for training, validation or prediction: a re-iterable (sync or async) collection where each iteration
 * is one epoch. `length`, when known, is the number of batches per epoch (for progress bars and schedules).
 * An array of batches, a `DataLoader` from `@convkit/data`, or any object with a `[Symbol.iterator]()` or
 * `[Symbol.asyncIterator]()` that returns a fresh iterator each time. A generator object is not re-iterable and is
 * refused.
 */
export type BatchSource = (Iterable<Batch> | AsyncIterable<Batch>) & { readonly length?: number };

/** Checks that `source` is a re-iterable batch source; throws an error naming `argument` otherwise. */
export function checkBatchSource(source: unknown, argument: string): asserts source is BatchSource {
  if (source === undefined || source === null) {
    throw new Error(`${argument} must be a BatchSource (an iterable of { x, y } batches; received ${String(source)})`);
  }
  const candidate = source as Partial<Record<symbol | 'next' | 'length', unknown>>;
  const iterable =
    typeof candidate[Symbol.iterator] === 'function' || typeof candidate[Symbol.asyncIterator] === 'function';
  if (!iterable) {
    throw new Error(
      `${argument} must be a BatchSource (an iterable of { x, y } batches; received ${describe(source)})`
    );
  }
  if (typeof candidate.next === 'function') {
    throw new Error(
      `${argument} must be re-iterable, each iteration one epoch (received an iterator such as a generator object, ` +
        'which can be iterated only once); pass an object whose [Symbol.iterator]() returns a fresh iterator'
    );
  }
  if (candidate.length !== undefined && !(Number.isInteger(candidate.length) && (candidate.length as number) >= 0)) {
    throw new Error(`${argument}.length must be a non-negative integer (received ${String(candidate.length)})`);
  }
}

/** Checks one item yielded by a batch source. */
export function checkBatch(
  batch: unknown,
  argument: string,
  index: number,
  needsTargets = true
): asserts batch is Batch {
  const candidate = batch as Partial<Batch> | null | undefined;
  const ok =
    candidate !== null &&
    typeof candidate === 'object' &&
    candidate.x instanceof tf.Tensor &&
    (!needsTargets || candidate.y instanceof tf.Tensor);
  if (!ok) {
    throw new Error(
      `${argument} batch ${index} must be an object { x: tf.Tensor, y: tf.Tensor } (received ${describe(batch)})`
    );
  }
  const samples = candidate.x!.rank === 0 ? 1 : candidate.x!.shape[0]!;
  if (samples === 0) {
    throw new Error(
      `${argument} batch ${index} is empty: x has shape [${candidate.x!.shape.join(', ')}] (expected at least one sample)`
    );
  }
  const y = candidate.y;
  if (needsTargets && y !== undefined && y.rank > 0 && candidate.x!.rank > 0 && y.shape[0] !== samples) {
    throw new Error(
      `${argument} batch ${index} has ${samples} inputs but ${y.shape[0]} targets: x has shape ` +
        `[${candidate.x!.shape.join(', ')}], y has shape [${y.shape.join(', ')}] (expected the same first dimension)`
    );
  }
}

/** Number of batches per epoch, if the source says. */
export function sourceLength(source: BatchSource): number | undefined {
  const length = (source as { length?: unknown }).length;
  return typeof length === 'number' ? length : undefined;
}

/** Disposes a batch's tensors, leaving alone any tensor listed in `keep`. */
export function disposeBatch(batch: Partial<Batch> | undefined, keep: readonly (tf.Tensor | undefined)[] = []): void {
  if (batch === undefined) return;
  for (const tensor of [batch.x, batch.y]) {
    if (tensor instanceof tf.Tensor && !keep.includes(tensor)) tensor.dispose();
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof tf.Tensor) return `a tensor of shape [${value.shape.join(', ')}]`;
  return typeof value === 'object' ? `an object with keys ${Object.keys(value).join(', ') || '(none)'}` : typeof value;
}
