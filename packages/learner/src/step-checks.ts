import * as tf from '@tensorflow/tfjs';
import type { Dispatcher } from './dispatcher.js';
import { labelCheck, throwIfBadLabels, type LabelSite } from './label-check.js';
import type { LeakGuard } from './leak-guard.js';
import type { LossBuffer } from './loss-buffer.js';
import type { LossFunction } from './losses.js';

/** The checks a fit makes on each training step besides the hooks: label checks and leak accounting of the tape. */
export class StepChecks {
  /** Whether the fit's first label check was read (it is awaited before the first step; later ones are batched). */
  private labelsRead = false;

  constructor(
    private readonly lossFn: LossFunction,
    private readonly leakGuard: LeakGuard | undefined,
    private readonly dispatcher: Dispatcher,
    private readonly losses: LossBuffer
  ) {}

  /**
   * Leak accounting for the taped pass (the model, `afterPred`/`afterLoss` hooks and the loss function), which cannot
   * be measured piece by piece inside the tape. When it left `extra` tensors behind, the loss function is called once
   * more outside the tape on the same prediction (in `tf.tidy`, which frees all it did not `tf.keep`): if that call
   * leaves tensors too, the loss is blamed, else the taped hooks (if any).
   */
  accountForward(extra: number, pred: tf.Tensor, y: tf.Tensor): void {
    if (this.leakGuard === undefined || extra <= 0) return;
    const before = tf.memory().numTensors;
    tf.tidy(() => void this.lossFn(pred, y));
    if (tf.memory().numTensors - before > 0) {
      this.leakGuard.recordLoss(extra);
      return;
    }
    const taped = [...this.dispatcher.pluginsFor('afterPred'), ...this.dispatcher.pluginsFor('afterLoss')];
    if (taped.length === 0) return;
    const names = [...new Set(taped.map((p) => p.name))].join('", "');
    this.leakGuard.record(names, 'afterPred/afterLoss', extra);
  }

  /**
   * Checks class-index labels against the model's output units with one fused reduction: the fit's first batch is
   * read (and refused) before its step; later batches' checks are read with the losses, in the same device read.
   */
  async labels(pred: tf.Tensor, y: tf.Tensor, site: LabelSite): Promise<void> {
    const check = labelCheck(pred, y, site);
    if (check === undefined) return;
    if (this.labelsRead) {
      this.losses.addCheck(check);
      return;
    }
    this.labelsRead = true;
    try {
      throwIfBadLabels(check, await check.tensor.data());
    } finally {
      check.tensor.dispose();
    }
  }
}
