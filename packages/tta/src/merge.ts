import * as tf from '@tensorflow/tfjs';

/** The merge modes of {@link withTTA}, as data. */
export const MERGE_MODES: readonly ['mean', 'gmean', 'max', 'min', 'sum', 'vote', 'tsharpen'] = ['mean', 'gmean', 'max', 'min', 'sum', 'vote', 'tsharpen'];

/** How {@link withTTA} combines the views' outputs. */
export type MergeMode = (typeof MERGE_MODES)[number];

/** Throws unless `merge` is one of {@link MERGE_MODES}, naming the value and the allowed ones. */
export function checkMergeMode(merge: unknown): asserts merge is MergeMode {
  if (!(MERGE_MODES as readonly unknown[]).includes(merge)) {
    throw new Error(`merge must be one of ${MERGE_MODES.map((mode) => `'${mode}'`).join(', ')} (received ${JSON.stringify(merge)})`);
  }
}

/**
 * A running merge over views: `add` folds one view's output in, `result` finishes.
 * Holds one accumulator tensor at a time; `dispose` frees it.
 */
export class RunningMerge {
  private accumulator: tf.Tensor | undefined;
  private count = 0;

  constructor(private readonly mode: MergeMode) {}

  /** Folds `output` in. Does not dispose `output`. */
  add(output: tf.Tensor): void {
    const previous = this.accumulator;
    this.accumulator = tf.tidy(() => {
      const term = this.term(output);
      if (previous === undefined) return term;
      if (this.mode === 'max') return tf.maximum(previous, term);
      if (this.mode === 'min') return tf.minimum(previous, term);
      return tf.add(previous, term);
    });
    previous?.dispose();
    this.count += 1;
  }

  /** The merged tensor; the caller disposes it. Frees the accumulator. */
  result(): tf.Tensor {
    const accumulator = this.accumulator;
    if (accumulator === undefined) throw new Error('RunningMerge.result() needs at least one view (received 0)');
    this.accumulator = undefined;
    const n = this.count;
    this.count = 0;
    const merged = tf.tidy(() => {
      switch (this.mode) {
        case 'mean': case 'vote': case 'tsharpen': return tf.div(accumulator, n);
        case 'gmean': return tf.exp(tf.div(accumulator, n));
        default: return tf.clone(accumulator);
      }
    });
    accumulator.dispose();
    return merged;
  }

  /** Frees the accumulator, if any. */
  dispose(): void {
    this.accumulator?.dispose();
    this.accumulator = undefined;
    this.count = 0;
  }

  private term(output: tf.Tensor): tf.Tensor {
    switch (this.mode) {
      case 'gmean': return tf.log(output);
      case 'tsharpen': return tf.sqrt(output);
      case 'vote': {
        const classes = output.shape[output.rank - 1]!;
        return tf.oneHot(tf.argMax(output, -1), classes).toFloat();
      }
      default: return tf.clone(output);
    }
  }
}
