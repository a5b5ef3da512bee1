import type * as tf from '@tensorflow/tfjs';

/** A histogram: `counts[i]` values fell in [`edges[i]`, `edges[i + 1]`) (the last bin includes its upper edge). */
export interface Histogram {
  /** `bins + 1` increasing bin edges. */
  edges: number[];
  /** `bins` counts. */
  counts: number[];
}

/** Summary statistics of a tensor's values (see {@link tensorStats}). */
export interface TensorStats {
  /** Number of values. */
  count: number;
  /** Mean of the finite values (NaN when none are finite). */
  mean: number;
  /** Population standard deviation of the finite values. */
  std: number;
  /** Smallest finite value. */
  min: number;
  /** Largest finite value. */
  max: number;
  /** Fraction of values exactly 0 (dead ReLUs). */
  zeroFraction: number;
  /** Fraction of values with |v| ≥ the saturation threshold (saturated tanh/sigmoid units). */
  saturatedFraction: number;
  /** Number of NaN or ±Infinity values. */
  nonFinite: number;
  /** Histogram of the finite values. */
  histogram: Histogram;
}

/** Options of {@link tensorStats}. */
export interface TensorStatsOptions {
  /** Histogram bins. Defaults to 20. */
  bins?: number;
  /** Histogram range `[low, high]`; values outside are counted in the end bins. Defaults to the values' [min, max]. */
  range?: readonly [number, number];
  /** |v| at or above this counts as saturated. Defaults to 0.99 (tanh near ±1, sigmoid near 1). */
  saturation?: number;
}

/** Checks `bins`, `range` and `saturation`, naming the option. */
export function checkStatsOptions(options: TensorStatsOptions, prefix = 'options'): void {
  const { bins, range, saturation } = options;
  if (bins !== undefined && !(Number.isInteger(bins) && bins >= 1)) {
    throw new Error(`${prefix}.bins must be a positive integer (received ${String(bins)})`);
  }
  if (range !== undefined && !(Array.isArray(range) && range.length === 2 && range[0] < range[1])) {
    throw new Error(`${prefix}.range must be [low, high] with low < high (received ${JSON.stringify(range)})`);
  }
  if (saturation !== undefined && !(saturation > 0)) {
    throw new Error(`${prefix}.saturation must be a positive number (received ${String(saturation)})`);
  }
}

/**
 * Statistics of a set of values: mean, standard deviation, extremes, the fractions of zeros and of saturated
 * values, the count of non-finite values and a histogram. Pure (no tensors).
 */
export function valueStats(values: ArrayLike<number>, options: TensorStatsOptions = {}): TensorStats {
  checkStatsOptions(options);
  const bins = options.bins ?? 20;
  const saturation = options.saturation ?? 0.99;
  let finite = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let zeros = 0;
  let saturated = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    finite++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeros++;
    if (Math.abs(v) >= saturation) saturated++;
  }
  const mean = finite > 0 ? sum / finite : NaN;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) squares += (v - mean) * (v - mean);
  }
  let [low, high] = options.range ?? [min, max];
  if (finite === 0 && options.range === undefined) [low, high] = [0, 1];
  else if (low === high) [low, high] = [low - 0.5, high + 0.5];
  const width = (high - low) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? high : low + i * width));
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    const bin = Math.min(bins - 1, Math.max(0, Math.floor((v - low) / width)));
    counts[bin]!++;
  }
  const count = values.length;
  return {
    count,
    mean,
    std: finite > 0 ? Math.sqrt(squares / finite) : NaN,
    min: finite > 0 ? min : NaN,
    max: finite > 0 ? max : NaN,
    zeroFraction: count > 0 ? zeros / count : 0,
    saturatedFraction: count > 0 ? saturated / count : 0,
    nonFinite: count - finite,
    histogram: { edges, counts },
  };
}

/**
 * Reads a tensor (one device read) and returns {@link valueStats} of its values. Does not dispose `tensor`.
 *
 * @example
 * ```ts
 * const stats = await tensorStats(tf.tensor([0, 1, -1, 0.5]), { bins: 4 });
 * console.log(stats.zeroFraction); // 0.25
 * ```
 */
export async function tensorStats(tensor: tf.Tensor, options: TensorStatsOptions = {}): Promise<TensorStats> {
  return valueStats(await tensor.data<'float32'>(), options);
}
