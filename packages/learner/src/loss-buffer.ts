import * as tf from '@tensorflow/tfjs';
import type { History, StepRecord } from './history.js';
import { throwIfBadLabels, type LabelCheck } from './label-check.js';

/** One training batch's loss: a kept scalar until read, then a number. */
export interface LossEntry {
  tensor: tf.Scalar | undefined;
  value: number | undefined;
  readonly size: number;
}

/**
 * Reads one device scalar per listed tensor with a single device read (one `stack`, one `data()`).
 * Does not dispose the inputs.
 */
export async function readScalars(scalars: readonly tf.Scalar[]): Promise<number[]> {
  if (scalars.length === 0) return [];
  const stacked = tf.stack(scalars as tf.Scalar[]);
  try {
    return Array.from(await stacked.data());
  } finally {
    stacked.dispose();
  }
}

/**
 * The training losses of the current epoch, kept on the device and read in one batch when someone needs them
 * (a plugin's `ctx.lossValue()`/`ctx.runningLoss()`, or the epoch end) — STYLE (b) 11: sync on purpose. Step
 * records wait here for their loss and go into the history, in order, once read.
 */
export class LossBuffer {
  private entries: LossEntry[] = [];
  private pendingSteps: { entry: LossEntry; record: Omit<StepRecord, 'loss'> }[] = [];
  private checks: LabelCheck[] = [];

  /**
   * @param afterRead - Called after every device read with `undefined`, or with the error the read failed with (then
   *   the read's error is rethrown unless `afterRead` throws its own): where the fit checks the backend's health.
   */
  constructor(
    private readonly history: History,
    private readonly afterRead: (readError: unknown) => Promise<void> = async () => undefined
  ) {}

  /** Keeps a copy of `loss` (the caller still owns and disposes `loss`). */
  add(loss: tf.Scalar, size: number): LossEntry {
    const entry: LossEntry = { tensor: tf.keep(loss.clone()), value: undefined, size };
    this.entries.push(entry);
    return entry;
  }

  /** Queues a step record that gets `entry`'s loss once it is read. */
  addStep(entry: LossEntry, record: Omit<StepRecord, 'loss'>): void {
    this.pendingSteps.push({ entry, record });
  }

  /** Queues a label check (taking ownership of its tensor), read with the next losses; a bad one throws then. */
  addCheck(check: LabelCheck): void {
    this.checks.push(check);
  }

  /** Tensors the buffer holds until its next read (unread losses and label checks). */
  get held(): number {
    return this.entries.filter((e) => e.tensor !== undefined).length + this.checks.length;
  }

  /**
   * Reads every unread loss and every queued label check with one device read, then moves the waiting step records
   * into the history. Throws (after the read) if a label check found bad labels.
   */
  async resolve(): Promise<void> {
    const unread = this.entries.filter((e) => e.tensor !== undefined);
    const checks = this.checks;
    this.checks = [];
    let values: number[];
    try {
      values = await this.read(unread, checks);
    } catch (error) {
      await this.afterRead(error);
      throw error;
    }
    if (unread.length > 0 || checks.length > 0) await this.afterRead(undefined);
    unread.forEach((entry, i) => {
      entry.tensor!.dispose();
      entry.tensor = undefined;
      entry.value = values[i];
    });
    checks.forEach((check, i) => throwIfBadLabels(check, values.slice(unread.length + 3 * i, unread.length + 3 * i + 3)));
    for (const { entry, record } of this.pendingSteps) this.history.steps.push({ ...record, loss: entry.value! });
    this.pendingSteps = [];
  }

  /** Reads the unread losses, then the label checks' values, in one `data()`; disposes the checks' tensors. */
  private async read(unread: readonly LossEntry[], checks: readonly LabelCheck[]): Promise<number[]> {
    if (checks.length === 0) return readScalars(unread.map((e) => e.tensor!));
    const joined = tf.tidy(() =>
      tf.concat([...(unread.length > 0 ? [tf.stack(unread.map((e) => e.tensor!))] : []), ...checks.map((c) => c.tensor)])
    );
    try {
      return Array.from(await joined.data());
    } finally {
      joined.dispose();
      for (const check of checks) check.tensor.dispose();
    }
  }

  /** The value of `entry`, reading all unread losses if needed. */
  async valueOf(entry: LossEntry): Promise<number> {
    if (entry.value === undefined) await this.resolve();
    return entry.value!;
  }

  /** Sample-weighted mean of this epoch's losses so far (NaN when none). */
  async mean(): Promise<number> {
    await this.resolve();
    let total = 0;
    let count = 0;
    for (const entry of this.entries) {
      total += entry.value! * entry.size;
      count += entry.size;
    }
    return count === 0 ? Number.NaN : total / count;
  }

  /** This epoch's losses read so far, with their batch sizes (call `resolve` first), for a checkpoint. */
  snapshot(): { value: number; size: number }[] {
    return this.entries.filter((e) => e.value !== undefined).map((e) => ({ value: e.value!, size: e.size }));
  }

  /** Puts back the losses of an epoch resumed from a checkpoint, so that its mean covers the whole epoch. */
  restore(entries: readonly { value: number; size: number }[]): void {
    for (const { value, size } of entries) this.entries.push({ tensor: undefined, value, size });
  }

  /** Starts a new epoch: forgets the entries (disposing unread ones). Queued step records are dropped. */
  clear(): void {
    for (const entry of this.entries) entry.tensor?.dispose();
    for (const check of this.checks) check.tensor.dispose();
    this.entries = [];
    this.pendingSteps = [];
    this.checks = [];
  }
}
