import * as tf from '@tensorflow/tfjs';

/**
 * A metric accumulated over an epoch: `reset()` at the phase start, `update(pred, y)` per batch, `compute()` once at
 * the phase end. Implementations accumulate on the device where that is cheap (a kept running scalar) so that
 * training never waits for a device-to-CPU read; `compute()` reads the accumulator once, asynchronously
 * (`await t.data()`: synchronous reads fail on WebGPU in Node) — a deliberate read at the epoch end. A custom
 * metric may still return a plain number.
 *
 * `getState`/`setState` (optional) carry the accumulated values (running sums, confusion counts) through a
 * checkpoint, so that a run resumed mid-epoch reports the same epoch metrics as an uninterrupted one.
 *
 * `update` must not keep references to `pred` or `y` (the learner disposes them after the batch). `reset` frees
 * any tensors the metric holds.
 */
export interface Metric {
  /** The key in the history's `train`/`valid` records. Must not be `'loss'`, and unique among a learner's metrics. */
  readonly name: string;
  /** Forgets the accumulated values and frees their tensors. */
  reset(): void;
  /** Accumulates one batch. Does not dispose or keep `pred` or `y`. */
  update(pred: tf.Tensor, y: tf.Tensor): void;
  /** The value over the batches since `reset` (NaN when there were none). Reads the device once. */
  compute(): number | Promise<number>;
  /** The accumulated values as JSON (for checkpoints). Reads the device once. */
  getState?(): unknown;
  /** Restores a state from `getState` (replacing what was accumulated). */
  setState?(state: unknown): void;
}

/** The saved form of a running device sum. */
interface DeviceSumState {
  total: number | null;
  count: number;
}

/**
 * A running, sample-weighted sum kept on the device: `add(batchSum, count)` adds a scalar without reading it.
 * Disposed by `reset`.
 */
class DeviceSum {
  private total: tf.Scalar | undefined;
  private count = 0;

  add(batchSum: tf.Scalar, count: number): void {
    const previous = this.total;
    this.total = tf.keep(previous === undefined ? batchSum.clone() : (tf.add(previous, batchSum) as tf.Scalar));
    previous?.dispose();
    this.count += count;
  }

  async mean(): Promise<number> {
    if (this.total === undefined || this.count === 0) return Number.NaN;
    return (await this.total.data())[0]! / this.count;
  }

  async getState(): Promise<DeviceSumState> {
    return { total: this.total === undefined ? null : (await this.total.data())[0]!, count: this.count };
  }

  setState(state: unknown, name: string): void {
    const saved = state as Partial<DeviceSumState> | null;
    if (
      typeof saved !== 'object' ||
      saved === null ||
      !(saved.total === null || typeof saved.total === 'number') ||
      typeof saved.count !== 'number'
    ) {
      throw new Error(`metric "${name}": state must be { total, count } from getState (received ${JSON.stringify(state)})`);
    }
    this.reset();
    if (saved.total !== null) this.total = tf.keep(tf.scalar(saved.total!));
    this.count = saved.count;
  }

  reset(): void {
    this.total?.dispose();
    this.total = undefined;
    this.count = 0;
  }
}

/** Class indices of `y`: argmax of one-hot/soft labels with `pred`'s shape, or the labels themselves. */
function classIndices(pred: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (y.rank === pred.rank) return tf.argMax(y, -1);
  if (y.rank === pred.rank - 1) return tf.cast(y, 'int32');
  throw new Error(
    `accuracy: labels must be one-hot with shape [${pred.shape.join(', ')}] or indices with shape ` +
      `[${pred.shape.slice(0, -1).join(', ')}] (received shape [${y.shape.join(', ')}])`
  );
}

/**
 * Classification accuracy: the fraction of samples whose highest-scoring class (argmax over the last axis) is the
 * label. Works with logits or probabilities, and with one-hot or index labels. The correct count accumulates on
 * the device.
 *
 * @returns A new metric named `'accuracy'`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { accuracy } from '@convkit/learner';
 * const metric = accuracy();
 * metric.update(tf.tensor2d([[2, 1], [0, 3]]), tf.tensor1d([0, 0], 'int32'));
 * console.log(await metric.compute()); // 0.5
 * metric.reset();
 * ```
 */
export function accuracy(): Metric {
  const correct = new DeviceSum();
  return {
    name: 'accuracy',
    reset: () => correct.reset(),
    update: (pred, y) => {
      if (pred.rank < 2 || pred.shape[pred.rank - 1]! < 2) {
        throw new Error(
          `accuracy needs class scores with a last dimension of at least 2 (received shape [${pred.shape.join(', ')}])`
        );
      }
      const batchCorrect = tf.tidy(
        () => tf.sum(tf.cast(tf.equal(tf.argMax(pred, -1), classIndices(pred, y)), 'float32')) as tf.Scalar
      );
      correct.add(batchCorrect, pred.size / pred.shape[pred.rank - 1]!);
      batchCorrect.dispose();
    },
    compute: () => correct.mean(),
    getState: () => correct.getState(),
    setState: (state) => correct.setState(state, 'accuracy'),
  };
}

/**
 * A metric that averages a per-batch value over the epoch, weighted by batch size (so the result is the mean over
 * samples when `fn` returns a per-batch mean). The running sum stays on the device.
 *
 * @param name - The metric's name in the history.
 * @param fn - Returns the batch's mean value as a scalar; it may create tensors freely (it runs in `tf.tidy`).
 * @returns A new metric.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { meanMetric } from '@convkit/learner';
 * const mae = meanMetric('mae', (pred, y) => tf.mean(tf.abs(tf.sub(pred, y))) as tf.Scalar);
 * ```
 */
export function meanMetric(name: string, fn: (pred: tf.Tensor, y: tf.Tensor) => tf.Scalar): Metric {
  if (typeof name !== 'string' || name === '') {
    throw new Error(`name must be a non-empty string (received ${JSON.stringify(name)})`);
  }
  if (typeof fn !== 'function') throw new Error(`fn must be a function (received ${typeof fn})`);
  const sum = new DeviceSum();
  return {
    name,
    reset: () => sum.reset(),
    update: (pred, y) => {
      const batchSize = pred.shape[0] ?? 1;
      const weighted = tf.tidy(() => {
        const value = fn(pred, y);
        if (value.rank !== 0) {
          throw new Error(`metric "${name}" must return a scalar (received shape [${value.shape.join(', ')}])`);
        }
        return tf.mul(value, batchSize) as tf.Scalar;
      });
      sum.add(weighted, batchSize);
      weighted.dispose();
    },
    compute: () => sum.mean(),
    getState: () => sum.getState(),
    setState: (state) => sum.setState(state, name),
  };
}

/** Checks a metric list: each a Metric, names unique and not `'loss'`. */
export function checkMetrics(metrics: unknown): asserts metrics is Metric[] {
  if (!Array.isArray(metrics)) throw new Error(`metrics must be an array of Metric (received ${typeof metrics})`);
  const seen = new Set<string>();
  for (const [index, metric] of metrics.entries()) {
    const candidate = metric as Partial<Metric> | null;
    if (
      !candidate ||
      typeof candidate.name !== 'string' ||
      typeof candidate.update !== 'function' ||
      typeof candidate.compute !== 'function' ||
      typeof candidate.reset !== 'function'
    ) {
      throw new Error(
        `metrics[${index}] must be a Metric { name, reset, update, compute } (received ${typeof metric})`
      );
    }
    if (candidate.name === 'loss') {
      throw new Error(`metrics[${index}] is named "loss", which the learner records itself; rename the metric`);
    }
    if (seen.has(candidate.name)) {
      throw new Error(`metrics has two metrics named "${candidate.name}"; metric names must be unique`);
    }
    seen.add(candidate.name);
  }
}
