import * as tf from '@tensorflow/tfjs';
import { compose } from './compose.js';
import type { TTAView } from './compose.js';
import { checkMergeMode, RunningMerge } from './merge.js';
import type { MergeMode } from './merge.js';
import { checkImageBatch, checkPositiveInteger } from './transform.js';
import type { TTATransform } from './transform.js';

/** What the wrapped model returns, which decides what may be merged and whether views are deaugmented. */
export type TTAOutput = 'scores' | 'probabilities' | 'spatial';

/** A model for {@link withTTA}: a `tf.LayersModel` or a function from images to one tensor. */
export type TTAModel = tf.LayersModel | ((x: tf.Tensor4D) => tf.Tensor);

/** Options of {@link withTTA}. */
export interface WithTTAOptions {
  /** How views are combined, one of `MERGE_MODES`. Defaults to `'mean'`. */
  merge?: MergeMode;
  /**
   * What the model returns. `'scores'`: per-class values of any sign (logits), merged as they are
   * (`gmean` and `tsharpen` need positive values, so they throw here). `'probabilities'`: per-class
   * positive values. `'spatial'`: an `[N, H, W, C]` map aligned with the input, deaugmented before
   * merging (so crops throw). Defaults to `'scores'`.
   */
  output?: TTAOutput;
  /** Images per forward pass; the input is split into chunks of this size. Defaults to the whole batch. */
  batchSize?: number;
  /** Clock in seconds for {@link TTAPredictor.cost}. Defaults to `performance.now() / 1000`. */
  now?: () => number;
}

/** The inference cost of TTA, from {@link TTAPredictor.cost}. */
export interface TTACost {
  /** Forward passes per image (the number of views). */
  views: number;
  /** Forward passes per image beyond plain prediction: `views − 1`. */
  extraForwardPasses: number;
  /** Wall-clock seconds per image of the last `predict` (all views), once one has run. */
  secondsPerImage?: number;
}

/** A model wrapped with TTA, from {@link withTTA}. */
export interface TTAPredictor {
  /** Predicts over every view and merges. Returns a new tensor; the caller disposes it. Does not dispose `x`. */
  predict(x: tf.Tensor4D): tf.Tensor;
  /** The number of views (forward passes per image). */
  readonly views: number;
  /** The view labels, in prediction order. */
  readonly viewLabels: readonly string[];
  /** The extra inference cost of TTA. */
  cost(): TTACost;
}

const OUTPUTS: readonly TTAOutput[] = ['scores', 'probabilities', 'spatial'];

function runModel(model: TTAModel, x: tf.Tensor4D): tf.Tensor {
  const output = typeof model === 'function' ? model(x) : model.predict(x);
  if (Array.isArray(output) || !(output instanceof tf.Tensor)) {
    throw new Error('model must return one tensor (received an array of tensors); wrap a multi-output model in a function that picks one');
  }
  return output;
}

function predictChunk(model: TTAModel, views: readonly TTAView[], merge: MergeMode, spatial: boolean, x: tf.Tensor4D): tf.Tensor {
  const merger = new RunningMerge(merge);
  try {
    for (const view of views) {
      const output = tf.tidy(() => {
        const y = runModel(model, view.augment(x));
        if (!spatial) return y;
        checkImageBatch('model output (output \'spatial\')', y);
        return view.deaugment(y);
      });
      try {
        merger.add(output);
      } finally {
        output.dispose();   // each view's output is freed once merged
      }
    }
    return merger.result();
  } finally {
    merger.dispose();
  }
}

/**
 * Wraps a model so that `predict` runs it over every TTA view and merges the outputs.
 *
 * Why: averaging a model's predictions over flips, crops, shifts or scales of each test image
 * usually gains accuracy at the price of one forward pass per view; `cost()` reports that price.
 * The views are the cartesian product of the transforms' params (see {@link compose}). For spatial
 * outputs each view is mapped back onto the input grid first.
 *
 * Merge modes, over n views with outputs yᵢ: `mean` Σyᵢ/n; `gmean` exp(Σ log yᵢ / n);
 * `max`/`min` elementwise; `sum` Σyᵢ; `vote` Σ onehot(argmax yᵢ)/n (majority share per class);
 * `tsharpen` Σ√yᵢ/n (ttach). Only one running accumulator is held: each view's output is disposed
 * once merged.
 *
 * Options: `merge`, defaults to `'mean'` (checked here, naming the allowed values); `output`
 * (`'scores'`, `'probabilities'`, `'spatial'`), defaults to `'scores'`; `batchSize`, defaults to the
 * whole batch; `now`, the clock for `cost()`.
 *
 * `predict(x)` returns a new tensor that the caller disposes; it does not dispose `x` or the model.
 *
 * @example
 * ```ts
 * const tta = withTTA(model, flips(), { merge: 'mean', output: 'probabilities' });
 * const probabilities = tta.predict(images);   // caller disposes
 * console.log(tta.views, tta.cost());          // 4, { views: 4, extraForwardPasses: 3, secondsPerImage }
 * probabilities.dispose();
 * ```
 */
export function withTTA(model: TTAModel, transforms: readonly TTATransform[], options: WithTTAOptions = {}): TTAPredictor {
  if (typeof model !== 'function' && (model === null || typeof model !== 'object' || typeof model.predict !== 'function')) {
    throw new Error(`model must be a tf.LayersModel or a function (x) => tf.Tensor (received ${String(model)})`);
  }
  if (!Array.isArray(transforms)) throw new Error(`transforms must be an array of TTA transforms (received ${String(transforms)})`);
  const merge = options.merge ?? 'mean';
  checkMergeMode(merge);
  const output = options.output ?? 'scores';
  if (!OUTPUTS.includes(output)) {
    throw new Error(`output must be one of ${OUTPUTS.map((name) => `'${name}'`).join(', ')} (received ${JSON.stringify(output)})`);
  }
  if (output === 'scores' && (merge === 'gmean' || merge === 'tsharpen')) {
    throw new Error(`merge '${merge}' needs positive outputs: use output 'probabilities' (received output 'scores')`);
  }
  if (options.batchSize !== undefined) checkPositiveInteger('batchSize', options.batchSize);
  const views = compose(transforms);
  if (output === 'spatial') {
    const notInvertible = transforms.filter((transform) => !transform.invertible).map((transform) => transform.name);
    if (notInvertible.length > 0) {
      throw new Error(`output 'spatial' needs invertible transforms, but ${notInvertible.join(', ')} cannot be mapped back onto the image (crops are not invertible)`);
    }
  }
  const now = options.now ?? ((): number => performance.now() / 1000);
  let secondsPerImage: number | undefined;

  return {
    views: views.length,
    viewLabels: views.map((view) => view.label),
    predict(x: tf.Tensor4D): tf.Tensor {
      checkImageBatch('x', x);
      const started = now();
      const n = x.shape[0];
      const batchSize = options.batchSize ?? Math.max(n, 1);
      let result: tf.Tensor;
      if (n <= batchSize) {
        result = predictChunk(model, views, merge, output === 'spatial', x);
      } else {
        const chunks: tf.Tensor[] = [];
        try {
          for (let start = 0; start < n; start += batchSize) {
            const chunk = tf.slice(x, [start, 0, 0, 0], [Math.min(batchSize, n - start), -1, -1, -1]);
            try {
              chunks.push(predictChunk(model, views, merge, output === 'spatial', chunk));
            } finally {
              chunk.dispose();
            }
          }
          result = tf.concat(chunks, 0);
        } finally {
          tf.dispose(chunks);
        }
      }
      if (n > 0) secondsPerImage = (now() - started) / n;
      return result;
    },
    cost(): TTACost {
      const cost: TTACost = { views: views.length, extraForwardPasses: views.length - 1 };
      if (secondsPerImage !== undefined) cost.secondsPerImage = secondsPerImage;
      return cost;
    },
  };
}
