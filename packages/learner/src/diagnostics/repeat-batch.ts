import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../batch-source.js';
import type { LoopContext } from '../context.js';
import type { Plugin } from '../plugin.js';

/** Options of {@link repeatBatch}. */
export interface RepeatBatchOptions {
  /** Settles the shared `'batch'` write target with other batch-writing plugins (e.g. mixup): a lower priority runs first, so augmentation still varies each repeat. Defaults to -10. */
  priority?: number;
}

/**
 * A plugin that trains on each batch `times` times in a row: at batch indices 0, k, 2k, … of every epoch it keeps a
 * copy of the batch from the source, and replaces the next k − 1 batches with copies of it.
 *
 * Why: E1.1 — a data pipeline bug that repeated one batch 20 times made the per-batch training accuracy spike to
 * ~100% every 20 steps while validation did not move. This plugin reproduces that failure on purpose, and is also a
 * cheap sanity check (a model that cannot fit one batch repeated k times has a bug).
 *
 * The number of steps per epoch is unchanged; each epoch sees ⌈length / k⌉ distinct batches, and the batches the
 * source yields in between are disposed unseen. The kept copy is owned by the plugin and freed when its repeats are
 * done, at the epoch end, or in `afterFit`.
 *
 * @param times - k, how many consecutive steps use the same batch: an integer ≥ 1 (1 changes nothing).
 * @param options - `priority` (see {@link RepeatBatchOptions}).
 * @example
 * ```ts
 * import { Learner, repeatBatch } from '@convkit/learner';
 * const learner = new Learner({ model, loss: 'softmaxCrossEntropy', optimizer, train, plugins: [repeatBatch(20)] });
 * ```
 */
export function repeatBatch(times: number, options: RepeatBatchOptions = {}): Plugin {
  if (!Number.isInteger(times) || times < 1) {
    throw new Error(`times must be a positive integer (received ${String(times)})`);
  }
  const priority = options.priority ?? -10;
  if (!Number.isFinite(priority)) {
    throw new Error(`options.priority must be a finite number (received ${String(options.priority)})`);
  }
  let kept: Batch | undefined;
  let position = 0;
  const release = (): void => {
    if (kept !== undefined) tf.dispose([kept.x, kept.y]);
    kept = undefined;
    position = 0;
  };
  return {
    name: 'repeatBatch',
    writes: ['batch'],
    priority,
    beforeFit: release,
    beforeEpoch: release,
    beforeBatch(ctx: LoopContext): void {
      if (times === 1) return;
      if (position === 0) {
        const batch = ctx.batch!;
        kept = { x: tf.keep(batch.x.clone()), y: tf.keep(batch.y.clone()) };
      } else {
        ctx.batch = { x: kept!.x.clone(), y: kept!.y.clone() };
      }
      position++;
      if (position === times) release();
    },
    afterFit: release,
  };
}
