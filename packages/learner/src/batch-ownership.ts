import * as tf from '@tensorflow/tfjs';
import { checkBatch, disposeBatch, type Batch } from './batch-source.js';
import type { VariableGradient } from './optimizer.js';

/** The batch fields of the loop context that hooks may replace. */
interface BatchSlots {
  batch: Batch | undefined;
  pred: tf.Tensor | undefined;
  loss: tf.Scalar | undefined;
  grads: VariableGradient[] | undefined;
  readonly batchIndex: number;
}

/**
 * Tracks every tensor the loop owns during one batch — the batch and its replacements, the predictions, the loss
 * and the gradients — disposes replaced ones as soon as a hook has replaced them (so the leak guard sees each hook's
 * true effect), and releases the rest after `afterBatch`.
 */
export class BatchOwnership {
  /** Predictions placed in `ctx.pred` during the taped pass (kept; disposed by `keepPred` or `release`). */
  readonly preds: tf.Tensor[] = [];
  private batches: Batch[] = [];
  private grads = new Set<tf.Tensor>();

  constructor(private readonly slots: BatchSlots) {}

  /** Takes ownership of a batch from the source. */
  begin(batch: Batch): void {
    this.batches = [batch];
  }

  /** After each beforeBatch hook: a replaced batch's tensors are disposed unless the new batch reuses them. */
  settleBatch(): void {
    const current = this.slots.batch;
    const previous = this.batches[this.batches.length - 1];
    if (current === previous) return;
    checkBatch(current, 'ctx.batch', this.slots.batchIndex);
    disposeBatch(previous, [current.x, current.y]);
    this.batches.push(current);
  }

  /** After the taped pass: disposes the predictions that `afterPred` hooks replaced. */
  keepPred(pred: tf.Tensor): void {
    for (const other of this.preds) if (other !== pred) other.dispose();
    this.preds.splice(0, this.preds.length, pred);
  }

  /** Takes ownership of the gradients. */
  adoptGrads(grads: readonly VariableGradient[]): void {
    this.grads = new Set(grads.map((g) => g.gradient));
  }

  /** Number of distinct gradient tensors owned. */
  get gradCount(): number {
    return this.grads.size;
  }

  /** After each afterBackward hook: replaced or dropped gradients are disposed. */
  settleGrads(): void {
    const grads = this.slots.grads;
    const valid =
      Array.isArray(grads) && grads.every((g) => g?.variable instanceof tf.Variable && g.gradient instanceof tf.Tensor);
    if (!valid) throw new Error('ctx.grads must be an array of { variable: tf.Variable, gradient: tf.Tensor }');
    const current = new Set(grads.map((g) => g.gradient));
    for (const tensor of this.grads) if (!current.has(tensor)) tensor.dispose();
    this.grads = current;
  }

  /** After `afterBatch` (or when the batch failed): disposes everything owned and clears the slots. */
  release(): void {
    const { slots } = this;
    tf.dispose([...this.preds, ...this.grads]);
    slots.loss?.dispose();
    for (const batch of this.batches) disposeBatch(batch);
    if (slots.batch !== undefined && !this.batches.includes(slots.batch)) disposeBatch(slots.batch);
    this.preds.length = 0;
    this.grads = new Set();
    this.batches = [];
    slots.batch = slots.pred = slots.loss = slots.grads = undefined;
  }
}
