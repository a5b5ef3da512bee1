import * as tf from '@tensorflow/tfjs';
import { adaptModel, type LearnerModel } from '../model.js';

/** How {@link findBatchSize} decided. */
export type BatchSizeMethod = 'budget' | 'trial';

/** Options of {@link findBatchSize}. */
export interface FindBatchSizeOptions {
  /** One sample's input shape, without the batch axis. Defaults to the model's input shape (required for a `FunctionModel`). */
  inputShape?: readonly number[];
  /** `'trial'` tries real training steps and catches out-of-memory errors (GPU backends); `'budget'` estimates bytes (CPU, wasm). Defaults to `'trial'` on the `webgl` and `webgpu` backends, `'budget'` otherwise. */
  method?: BatchSizeMethod;
  /** Memory budget in bytes for the `'budget'` method. Defaults to 1 GiB. */
  budgetBytes?: number;
  /**
   * Optimizer slots per weight for the budget: the measured step runs a real tfjs optimizer with that many slots
   * (0: SGD, 1: momentum, 2: Adam). Defaults to 2.
   */
  optimizerSlots?: number;
  /** The largest batch size to consider. Defaults to 4096. */
  maxBatchSize?: number;
  /** The batch size the `'trial'` search starts from; it doubles while steps succeed, then bisects. Defaults to 1. */
  startBatchSize?: number;
  /** One training step at a batch size, for `'trial'`; it throws on out-of-memory. Defaults to a forward and backward pass on zeros. */
  trial?: (batchSize: number) => void | Promise<void>;
  /** Which errors mean out-of-memory. Defaults to messages matching /out of memory|oom|allocat|exceed|memory/i. */
  isOutOfMemory?: (error: unknown) => boolean;
  /** The backend name deciding the default method. Defaults to `tf.getBackend()`. */
  backend?: string;
}

/** One try of the `'trial'` method. */
export interface BatchSizeTrial {
  batchSize: number;
  ok: boolean;
  /** The error message of a failed try. */
  error?: string;
}

/** What {@link findBatchSize} found. */
export interface BatchSizeReport {
  /** The largest batch size that fits (≥ 1). */
  batchSize: number;
  method: BatchSizeMethod;
  /** Budget method: estimated bytes per sample (activations and their gradients, plus the input). */
  perSampleBytes?: number;
  /** Budget method: estimated bytes independent of the batch (weights, gradients, optimizer slots). */
  fixedBytes?: number;
  /** Budget method: the budget used. */
  budgetBytes?: number;
  /** Budget method: the measured peak bytes of one full training step at `batchSize` (weights included). */
  peakBytes?: number;
  /** Trial method: every try, in order. */
  trials?: BatchSizeTrial[];
  /** One line for people. */
  message: string;
}

const DEFAULT_OOM = /out of memory|\boom\b|allocat|exceed|memory/i;

function count(shape: readonly (number | null)[]): number {
  return shape.slice(1).reduce<number>((product, size) => product * (size ?? 1), 1);
}

/**
 * Per-sample and fixed training bytes of a `tf.LayersModel` from its layer output shapes (float32): each layer's
 * output is kept for the backward pass and gets a gradient of the same size (×2), plus the input; the weights, their
 * gradients and `optimizerSlots` slots per weight are fixed.
 */
export function estimateTrainingBytes(
  model: tf.LayersModel,
  optimizerSlots: number = 2
): { perSampleBytes: number; fixedBytes: number } {
  let activations = 0;
  for (const layer of model.layers) {
    const shapes = layer.outputShape;
    const list = Array.isArray(shapes[0]) || shapes.length === 0 ? (shapes as (number | null)[][]) : [shapes as (number | null)[]];
    for (const shape of list) activations += count(shape);
  }
  const input = model.inputs.reduce((sum, symbolic) => sum + count(symbolic.shape), 0);
  return { perSampleBytes: 4 * (2 * activations + input), fixedBytes: 4 * model.countParams() * (2 + optimizerSlots) };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`options.${name} must be a positive integer (received ${String(value)})`);
  }
  return value;
}

/**
 * Finds the largest batch size that fits in memory for training `model`.
 *
 * Why: E1.6 — a batch of 50 ran out of GPU memory and 10 fitted; finding the limit by hand costs crashed runs.
 * With {@link gradientAccumulation} the small batch still gives the large batch's update.
 *
 * - `'trial'` (default on `webgl`/`webgpu`): runs a real training step (forward and backward on zeros, or your
 *   `trial`) at `startBatchSize`, doubles while it succeeds, then bisects between the last success and the first
 *   out-of-memory error; other errors are rethrown.
 * - `'budget'` (default on `cpu`, `wasm`, `tensorflow`): these backends use host memory and do not fail cleanly, so
 *   it measures the real peak bytes of full training steps on the backend in use — forward, backward and a real
 *   tfjs optimizer update with `optimizerSlots` slots (Adam by default), plus the weights — doubling the batch while
 *   a measured step fits within `budgetBytes`, then bisecting; it returns the largest batch whose measured step fits
 *   (`peakBytes` in the report; `fixedBytes + batch · perSampleBytes` is the line through the two largest fits). ({@link estimateTrainingBytes} gives a quick
 *   estimate from the layer shapes without running anything.)
 *
 * Makes and disposes its own tensors; does not change the model's weights.
 *
 * @example
 * ```ts
 * import { findBatchSize } from '@convkit/learner';
 * const { batchSize, message } = await findBatchSize(model, { budgetBytes: 256 * 2 ** 20 });
 * console.log(batchSize, message);
 * ```
 */
export async function findBatchSize(model: LearnerModel, options: FindBatchSizeOptions = {}): Promise<BatchSizeReport> {
  const adapter = adaptModel(model);
  const maxBatchSize = positiveInteger('maxBatchSize', options.maxBatchSize ?? 4096);
  const backend = options.backend ?? tf.getBackend();
  const method = options.method ?? (backend === 'webgl' || backend === 'webgpu' ? 'trial' : 'budget');
  if (method !== 'trial' && method !== 'budget') {
    throw new Error(`options.method must be 'trial' or 'budget' (received ${String(method)})`);
  }
  const inputShape =
    options.inputShape ?? (model instanceof tf.LayersModel ? (model.inputs[0]!.shape.slice(1) as number[]) : undefined);
  if (options.trial === undefined && (inputShape === undefined || inputShape.some((s) => !Number.isInteger(s) || s < 1))) {
    throw new Error(`options.inputShape must be a list of positive integers (received ${JSON.stringify(inputShape)})`);
  }
  /** Forward and backward on zeros at `batchSize`: the gradients (the caller disposes them). */
  const gradients = (batchSize: number): tf.NamedTensorMap => {
    const variables = adapter.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () => tf.tidy(() => tf.sum(adapter.forward(tf.zeros([batchSize, ...inputShape!]), true))) as tf.Scalar,
      variables
    );
    value.dispose();
    return grads;
  };
  const step = (batchSize: number): void => tf.dispose(Object.values(gradients(batchSize)));
  if (method === 'budget') return budgetSearch(model, options, maxBatchSize, gradients);
  const trial = options.trial ?? step;
  const isOutOfMemory = options.isOutOfMemory ?? ((error: unknown) => DEFAULT_OOM.test(String((error as Error)?.message ?? error)));
  const trials: BatchSizeTrial[] = [];
  const tryBatch = async (batchSize: number): Promise<boolean> => {
    try {
      await trial(batchSize);
      trials.push({ batchSize, ok: true });
      return true;
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
      trials.push({ batchSize, ok: false, error: String((error as Error)?.message ?? error) });
      return false;
    }
  };
  let low = 0;
  let high = maxBatchSize + 1;
  let size = Math.min(positiveInteger('startBatchSize', options.startBatchSize ?? 1), maxBatchSize);
  while (size < high) {
    if (await tryBatch(size)) {
      low = size;
      if (size === maxBatchSize) break;
      size = Math.min(size * 2, maxBatchSize);
    } else {
      high = size;
      break;
    }
  }
  while (high - low > 1 && low < maxBatchSize) {
    const middle = Math.floor((low + high) / 2);
    if (await tryBatch(middle)) low = middle;
    else high = middle;
  }
  if (low === 0) {
    throw new Error(`no batch size fits: batch 1 failed with "${trials.at(-1)?.error ?? 'unknown error'}"`);
  }
  return {
    batchSize: low,
    method,
    trials,
    message: `largest batch that trained without running out of memory: ${low} (${trials.length} tries)`,
  };
}

/** A fresh tfjs optimizer with `slots` slots per weight, as the measured step's optimizer. */
function slotOptimizer(slots: number): tf.Optimizer {
  if (slots === 0) return tf.train.sgd(1e-3);
  if (slots === 1) return tf.train.momentum(1e-3, 0.9);
  if (slots === 2) return tf.train.adam(1e-3);
  throw new Error(`options.optimizerSlots must be 0, 1 or 2 (received ${slots})`);
}

/**
 * The peak bytes of one full training step at `batchSize` on the backend in use: forward, backward and a real
 * optimizer update that creates its slots, plus the weights themselves. The weights are restored afterwards and
 * every tensor the step made is freed.
 */
async function measureStep(
  model: LearnerModel,
  step: (batchSize: number) => tf.NamedTensorMap,
  batchSize: number,
  slots: number
): Promise<number> {
  const variables = adaptModel(model).trainableVariables();
  // every weight, trainable or not (batch normalisation updates its moving statistics in a training forward pass)
  const weights = (model instanceof tf.LayersModel ? model.weights.map((w) => w.read()) : model.variables) as tf.Variable[];
  const weightBytes = weights.reduce((sum, w) => sum + w.size * 4, 0);
  const saved = weights.map((w) => tf.keep(w.clone()));
  const optimizer = slotOptimizer(slots);
  try {
    const before = tf.memory().numBytes;
    const info = await tf.profile(() => {
      const grads = step(batchSize);
      optimizer.applyGradients(variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      tf.dispose(Object.values(grads));
    });
    return Math.max(0, info.peakBytes - before) + weightBytes;
  } finally {
    optimizer.dispose();
    weights.forEach((w, i) => w.assign(saved[i]!));
    tf.dispose(saved);
  }
}

async function budgetSearch(
  model: LearnerModel,
  options: FindBatchSizeOptions,
  maxBatchSize: number,
  grads: (batchSize: number) => tf.NamedTensorMap
): Promise<BatchSizeReport> {
  const budgetBytes = options.budgetBytes ?? 2 ** 30;
  if (!(budgetBytes > 0) || !Number.isFinite(budgetBytes)) {
    throw new Error(`options.budgetBytes must be a positive number (received ${String(options.budgetBytes)})`);
  }
  const slots = options.optimizerSlots ?? 2;
  if (!Number.isInteger(slots) || slots < 0 || slots > 2) {
    throw new Error(`options.optimizerSlots must be 0, 1 or 2 (received ${String(options.optimizerSlots)})`);
  }
  const peaks = new Map<number, number>();
  const measure = async (batchSize: number): Promise<number> => {
    if (!peaks.has(batchSize)) peaks.set(batchSize, await measureStep(model, grads, batchSize, slots));
    return peaks.get(batchSize)!;
  };
  // The peak of a step is not linear in the batch at small sizes (the optimizer phase may dominate), so search on
  // measured steps: double while a step fits the budget, then bisect between the last fit and the first overrun.
  if ((await measure(1)) > budgetBytes) {
    throw new Error(
      `options.budgetBytes is too small: one training step at batch 1 needs ${peaks.get(1)} bytes on the ` +
        `${tf.getBackend()} backend (received ${budgetBytes})`
    );
  }
  let low = 1;
  let high = maxBatchSize + 1;
  while (low < maxBatchSize) {
    const next = Math.min(low * 2, maxBatchSize);
    if ((await measure(next)) > budgetBytes) {
      high = next;
      break;
    }
    low = next;
  }
  while (high - low > 1 && low < maxBatchSize) {
    const middle = Math.floor((low + high) / 2);
    if ((await measure(middle)) <= budgetBytes) low = middle;
    else high = middle;
  }
  const batchSize = low;
  const peakBytes = peaks.get(batchSize)!;
  // fixed + batch · perSample through the two largest sizes measured within the budget
  const sizes = [...peaks.keys()].filter((size) => peaks.get(size)! <= budgetBytes).sort((a, b) => b - a);
  const other = sizes.find((size) => size < batchSize) ?? batchSize;
  const perSampleBytes =
    other === batchSize ? peakBytes : Math.max(1, Math.round((peakBytes - peaks.get(other)!) / (batchSize - other)));
  const fixedBytes = Math.max(0, peakBytes - batchSize * perSampleBytes);
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return {
    batchSize,
    method: 'budget',
    perSampleBytes,
    fixedBytes,
    budgetBytes,
    peakBytes,
    message:
      `largest batch within ${mib(budgetBytes)}: ${batchSize} (a measured training step with ${slots} optimizer ` +
      `slot${slots === 1 ? '' : 's'} peaks at ${mib(peakBytes)} on ${tf.getBackend()}; about ${mib(fixedBytes)} fixed + ` +
      `${(perSampleBytes / 2 ** 10).toFixed(1)} KiB per sample)`,
  };
}
